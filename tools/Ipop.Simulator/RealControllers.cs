using System.Diagnostics;
using System.Globalization;
using System.Net;
using Ipop.Controllers;
using Ipop.Testing;
using Ipop.Tincan;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Ipop.Simulator;

/// <summary>
/// <c>--engine real</c>: every member is a real <see cref="GroupVpnController"/> with its real
/// <see cref="LinkNegotiator"/>, planner, route table and on-demand logic, on the in-memory signaling network of
/// <c>Ipop.Testing</c> (presence, announcements and messages as XMPP carries them) and its fake link managers (a link
/// connects once both ends authorized each other, a second later; a link whose other end vanished fails after the
/// dead-peer delay), all on one virtual clock. Delivery is measured by following the members' own route tables hop
/// by hop, as the data plane forwards a packet. What is not real: the datagrams (no handshakes, no loss, no NATs) and
/// the XMPP server's timing (messages arrive in the order sent, in the same virtual second).
/// </summary>
internal sealed class RealControllers : IDisposable
{
    private const string Group = "sim@conference.lab.test";
    private readonly SimulationSettings _settings;
    private readonly TextWriter _output;
    private readonly SimClock _time = new(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
    private readonly InMemorySignalingNetwork _signaling = new() { ManualDelivery = true };
    private readonly FakeTincanNetwork _links;
    private readonly List<Member> _members = [];
    private readonly Dictionary<PeerId, Member> _byId = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;
    private readonly SharedPlans _plans = new();
    private long _messages;

    public RealControllers(SimulationSettings settings, TextWriter output)
    {
        _settings = settings;
        _output = output;
        _random = new Random(settings.Seed);
        _links = new FakeTincanNetwork(_time) { ConnectDelay = TimeSpan.FromSeconds(1), DeadPeerDelay = TimeSpan.FromSeconds(settings.DeadAfterSeconds) };
    }

    /// <summary>Runs the join, steady and churn phases and returns the report lines (the last one machine-readable).</summary>
    public async Task<IReadOnlyList<string>> RunAsync()
    {
        var wall = Stopwatch.StartNew();
        for (int i = 0; i < _settings.Nodes; i++)
        {
            AddMember(i);
        }

        // Join: everyone comes online at t = 0; converged once every sampled pair is delivered.
        double converged = double.NaN;
        for (int second = 1; second <= 120 && double.IsNaN(converged); second++)
        {
            await StepAsync();
            if (Delivery(Sample(_settings.Probes)) == 1)
            {
                converged = second;
            }
        }

        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"join: converged after {Format(converged)} s simulated ({wall.Elapsed.TotalSeconds:F1} s wall)"));

        // Steady: a minute without changes, for the control traffic of a quiet group and the delivery once converged.
        long before = Interlocked.Read(ref _messages);
        for (int second = 0; second < 60; second++)
        {
            await StepAsync();
        }

        double steadyMessages = (Interlocked.Read(ref _messages) - before) / (double)_settings.Nodes;
        double delivery = Delivery(Sample(_settings.Probes));
        int[] links = [.. _members.Select(m => m.Tincan.Links.Count(l => l.Status.State == LinkState.Connected))];

        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steady: a quiet minute done ({wall.Elapsed.TotalSeconds:F1} s wall)"));

        // Churn: members leave the group and come back 10-30 s later, at the configured rate; probes every second.
        long delivered = 0;
        long probed = 0;
        double perSecond = _settings.Nodes * _settings.ChurnPercentPerMinute / 100 / 60;
        double carry = 0;
        var away = new List<(Member Member, int Back)>();
        int churnSeconds = _settings.ChurnPercentPerMinute > 0 ? (int)_settings.DurationSeconds : 0;
        for (int second = 0; second < churnSeconds; second++)
        {
            for (carry += perSecond; carry >= 1; carry--)
            {
                Member leaving = _members[_random.Next(_members.Count)];
                if (leaving.InGroup)
                {
                    leaving.InGroup = false;
                    await leaving.Node.LeaveGroupAsync(Group, CancellationToken.None);
                    away.Add((leaving, second + _random.Next(10, 31)));
                }
            }

            foreach ((Member m, int back) in away.Where(a => a.Back == second).ToList())
            {
                m.InGroup = true;
                await m.Node.JoinGroupAsync(Group, CancellationToken.None);
                away.Remove((m, back));
            }

            await StepAsync();
            List<(Member, Member)> sample = Sample(Math.Max(1, _settings.Probes / 10));
            probed += sample.Count;
            delivered += sample.Count(p => Walk(p.Item1, p.Item2));
        }

        wall.Stop();
        string churnDelivery = probed == 0 ? "n/a" : Percent(delivered / (double)probed);
        var lines = new List<string>
        {
            $"engine: real controllers and negotiators ({_settings.Nodes} GroupVpnControllers, in-memory signaling, fake link managers; {_plans.Built} plans built, {_plans.Reused} shared)",
            $"converged after {Format(converged)} s of simulated time; delivery of {_settings.Probes} sampled pairs once converged: {Percent(delivery)}",
            $"links per member: max {links.Max()}, mean {links.Average().ToString("F1", CultureInfo.InvariantCulture)} (structured bound 2k + ceil(log2 N) + on-demand cap)",
            $"signaling messages per member in a quiet minute: {steadyMessages.ToString("F1", CultureInfo.InvariantCulture)}",
            $"under churn ({_settings.ChurnPercentPerMinute.ToString(CultureInfo.InvariantCulture)} % per minute for {churnSeconds} s): delivery {churnDelivery} of {probed} probes",
            string.Create(CultureInfo.InvariantCulture,
                $"nodes={_settings.Nodes} topology={(_settings.Topology == TopologyKind.Mesh ? "mesh" : "structured")} engine=real converged_s={Format(converged)} delivery={Percent(delivery)} churn_delivery={churnDelivery} max_links={links.Max()} mean_links={links.Average():F1} msgs_per_node_min={steadyMessages:F1} wall_s={wall.Elapsed.TotalSeconds:F1}"),
        };
        await _stop.CancelAsync();
        foreach (Member m in _members)
        {
            try
            {
                await m.Run;
            }
            catch (OperationCanceledException)
            {
            }

            await m.Node.DisposeAsync();
        }

        return lines;
    }

    public void Dispose() => _stop.Dispose();

    private void AddMember(int index)
    {
        InMemorySignaling node = _signaling.CreateNode(string.Create(CultureInfo.InvariantCulture, $"m{index:d5}@lab.test"));
        FakeTincan tincan = _links.CreateNode(node.LocalId);
        var options = new GroupVpnOptions
        {
            Group = Group,
            Subnet = "198.18.0.0/15",
            Topology = _settings.Topology == TopologyKind.Mesh ? "mesh" : "structured",
            RingNeighbours = _settings.RingNeighbours,
            LinkRetryMinSeconds = 1,
            LinkRetryMaxSeconds = 30,
        };
        var controller = new GroupVpnController(node, tincan, new SimInterfaces(), Options.Create(options), NullLogger<GroupVpnController>.Instance, _time);
        controller.Negotiator.ManualPump = true;
        controller.PlanBuilder = _plans.Get;
        controller.Negotiator.Jitter = new Random(_settings.Seed * 100_003 + index);
        node.MessageReceived += (_, _) => Interlocked.Increment(ref _messages);
        var member = new Member(node, tincan, controller, controller.RunAsync(_stop.Token));
        _members.Add(member);
        _byId[node.LocalId] = member;
    }

    /// <summary>One virtual second: the clock moves (links connect, timers fire), then everyone handles what followed.</summary>
    private async Task StepAsync()
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        for (int round = 0; round < 100_000; round++)
        {
            int moved = _signaling.DeliverPending();
            foreach (Member m in _members)
            {
                // Most members have nothing queued in a given round; draining one anyway re-arms its deadline timer,
                // a scan of all its N peers, which made every round O(N²).
                if (m.Controller.Negotiator.PendingEvents > 0)
                {
                    moved += await m.Controller.Negotiator.DrainAsync(CancellationToken.None);
                }
            }

            if (moved == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException("the members did not settle within 100,000 rounds in one second: a message loop?");
    }

    private List<(Member, Member)> Sample(int count)
    {
        var inside = _members.Where(m => m.InGroup).ToList();
        var pairs = new List<(Member, Member)>(count);
        for (int i = 0; i < count && inside.Count > 1; i++)
        {
            Member a = inside[_random.Next(inside.Count)];
            Member b = inside[_random.Next(inside.Count)];
            if (a != b)
            {
                pairs.Add((a, b));
            }
        }

        return pairs;
    }

    private double Delivery(List<(Member, Member)> pairs) => pairs.Count == 0 ? 1 : pairs.Count(p => Walk(p.Item1, p.Item2)) / (double)pairs.Count;

    /// <summary>Follows the route tables from <paramref name="from"/> towards <paramref name="to"/>'s address over connected links.</summary>
    private bool Walk(Member from, Member to)
    {
        if (to.Controller.Addresses.Count == 0)
        {
            return false;
        }

        IPAddress destination = to.Controller.Addresses[0].Address;
        Member at = from;
        for (int hops = 0; hops <= 32; hops++)
        {
            if (at == to)
            {
                return true;
            }

            if (at.Tincan.Router is not RouteTable routes || routes.Lookup(destination) is not { Status.State: LinkState.Connected } link
                || !_byId.TryGetValue(link.Peer, out Member? next) || !next.InGroup)
            {
                return false;
            }

            at = next;
        }

        return false;
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";

    private static string Format(double seconds) => double.IsNaN(seconds) ? "never" : seconds.ToString("F1", CultureInfo.InvariantCulture);

    private sealed class Member(InMemorySignaling node, FakeTincan tincan, GroupVpnController controller, Task run)
    {
        public InMemorySignaling Node { get; } = node;

        public FakeTincan Tincan { get; } = tincan;

        public GroupVpnController Controller { get; } = controller;

        public Task Run { get; } = run;

        public bool InGroup { get; set; } = true;
    }
}
