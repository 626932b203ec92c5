using System.Net.NetworkInformation;
using System.Text;
using Ipop.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>
/// GroupVPN members on in-memory signaling and simulated links, all on one fake clock and pumped by the test in a
/// fixed order: a run with a given seed is repeatable, and nothing sleeps.
/// </summary>
internal sealed class GroupCluster : IAsyncDisposable
{
    public const string Group = "lab@conference.lab.test";
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;

    private GroupCluster(int seed, InMemorySignalingFaults? faults, bool reportSessionEnds)
    {
        _random = new Random(seed);
        Signaling = new InMemorySignalingNetwork { ManualDelivery = true, Faults = faults, ReportsSessionEnds = reportSessionEnds };
    }

    public InMemorySignalingNetwork Signaling { get; }

    public SimTincanNetwork Links { get; } = new();

    public FakeTimeProvider Time { get; } = new();

    public List<Member> Members { get; } = [];

    public static async Task<GroupCluster> StartAsync(int size, int seed, InMemorySignalingFaults? faults = null, Action<GroupVpnOptions>? configure = null, bool reportSessionEnds = false)
    {
        var cluster = new GroupCluster(seed, faults, reportSessionEnds);
        for (int i = 0; i < size; i++)
        {
            InMemorySignaling node = cluster.Signaling.CreateNode($"m{i:d2}@lab.test");
            SimTincan tincan = cluster.Links.Add(node.LocalId, (byte)(i + 1));
            tincan.Time = cluster.Time;
            var options = new GroupVpnOptions { Group = Group, Subnet = "198.19.0.0/16", LinkRetryMinSeconds = 1, LinkRetryMaxSeconds = 30 };
            configure?.Invoke(options);
            var log = new ListLogger<GroupVpnController>();
            var controller = new GroupVpnController(node, tincan, new FakeInterfaceFactory(MacOf(i)), Options.Create(options), log, cluster.Time);
            controller.Negotiator.ManualPump = true;
            controller.Negotiator.Jitter = new Random(seed * 1000 + i);
            Task run = controller.RunAsync(cluster._stop.Token);
            cluster.Members.Add(new Member(node, tincan, controller, run, log));
        }

        await cluster.SettleAsync();
        return cluster;
    }

    /// <summary>Delivers every signaling event and lets every controller handle its queue, in member order, until nothing moves.</summary>
    public async Task SettleAsync()
    {
        for (int round = 0; round < 10_000; round++)
        {
            int moved = Signaling.DeliverPending();
            foreach (Member m in Members)
            {
                moved += await m.Controller.Negotiator.DrainAsync(CancellationToken.None);
            }

            if (moved == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException("The cluster did not settle in 10 000 rounds: a message loop?");
    }

    /// <summary>One second: the clock ticks, links move, everyone handles what followed.</summary>
    public async Task StepAsync(bool chaos)
    {
        Time.Advance(TimeSpan.FromSeconds(1));
        Links.Step(Time.GetUtcNow(), _random, chaos);
        await SettleAsync();
    }

    /// <summary>Pairs that should be linked: both in the group with a session.</summary>
    public IEnumerable<(Member A, Member B)> Wanted() =>
        from a in Members
        from b in Members
        where string.CompareOrdinal(a.Id.Value, b.Id.Value) < 0 && a.InGroup && b.InGroup && a.Node.IsConnected && b.Node.IsConnected
        select (a, b);

    /// <summary>Every wanted pair is linked both ways and no member holds a link to anyone else.</summary>
    public bool Converged()
    {
        var wanted = Wanted().ToList();
        return wanted.All(p => Links.Linked(p.A.Id, p.B.Id))
            && Members.All(m => m.Tincan.Links.All(l => wanted.Any(p => (p.A.Id == m.Id && p.B.Id == l.Peer) || (p.B.Id == m.Id && p.A.Id == l.Peer))));
    }

    public string Describe()
    {
        var text = new StringBuilder();
        foreach (Member m in Members)
        {
            text.Append(m.Id.Value).Append(m.InGroup ? " (in group): " : " (out): ")
                .AppendJoin(", ", m.Tincan.Links.Select(l => $"{l.Peer.Value}={l.Status.State}")).AppendLine();
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Member m in Members)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => m.Run);
            await m.Node.DisposeAsync();
        }

        _stop.Dispose();
    }

    /// <summary>The MAC of member <paramref name="index"/>'s TAP interface (switch mode): one per member.</summary>
    public static PhysicalAddress MacOf(int index) => new([0x02, 0x00, 0x00, 0x01, (byte)(index >> 8), (byte)index]);

    internal sealed class Member(InMemorySignaling node, SimTincan tincan, GroupVpnController controller, Task run, ListLogger<GroupVpnController> log)
    {
        public InMemorySignaling Node { get; } = node;

        public PeerId Id => Node.LocalId;

        public SimTincan Tincan { get; } = tincan;

        public GroupVpnController Controller { get; } = controller;

        public Task Run { get; } = run;

        public ListLogger<GroupVpnController> Log { get; } = log;

        public bool InGroup { get; set; } = true;

        public IEnumerable<string> Errors => Log.Lines.Where(l => l.Level >= LogLevel.Error).Select(l => l.Message);

        public async Task LeaveAsync()
        {
            InGroup = false;
            await Node.LeaveGroupAsync(Group, CancellationToken.None);
        }

        public async Task RejoinAsync()
        {
            InGroup = true;
            await Node.JoinGroupAsync(Group, CancellationToken.None);
        }
    }
}
