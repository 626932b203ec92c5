using System.Net;
using Ipop.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Ipop.Controllers.Tests.SocialVpn.Ipv4Packets;

namespace Ipop.Controllers.Tests.SocialVpn;

/// <summary>
/// Real <see cref="SocialVpnController"/>s on the in-memory signaling network (manual delivery) and the fake Tincan
/// network of Ipop.Testing, on one fake clock, pumped in a fixed order until nothing moves: repeatable runs of many
/// nodes without threads racing. Every signaling message delivered or dropped is counted.
/// </summary>
internal sealed class SocialCluster : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<InMemorySignaling> _bare = [];
    private long _delivered;

    public SocialCluster() => Tincans = new FakeTincanNetwork(Time);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public InMemorySignalingNetwork Signaling { get; } = new() { ManualDelivery = true };

    public FakeTincanNetwork Tincans { get; }

    public List<Node> Nodes { get; } = [];

    /// <summary>Signaling messages delivered so far, plus those dropped (sent to a node that was not there).</summary>
    public long Messages => Interlocked.Read(ref _delivered) + Nodes.Sum(n => n.Signaling.DroppedMessages) + _bare.Sum(b => b.DroppedMessages);

    /// <summary>A signaling node for <paramref name="user"/> that accepts friend requests from <paramref name="friends"/>, not started.</summary>
    public InMemorySignaling CreateSignaling(string user, params string[] friends)
    {
        InMemorySignaling s = Signaling.CreateNode($"{user}@lab.test", Xmpp.FriendRequestPolicy.AcceptListed, friends.Select(f => $"{f}@lab.test"));
        s.MessageReceived += (_, _) => Interlocked.Increment(ref _delivered);
        return s;
    }

    /// <summary>A friend that is only a signaling presence (no controller): seen online, then offline, say.</summary>
    public InMemorySignaling AddBare(string user, params string[] friends)
    {
        InMemorySignaling s = CreateSignaling(user, friends);
        _bare.Add(s);
        return s;
    }

    /// <summary>Starts a SocialVPN node on <paramref name="signaling"/> (made by <see cref="CreateSignaling"/>).</summary>
    public async Task<Node> StartAsync(InMemorySignaling signaling, string pool, Action<SocialVpnOptions>? configure = null)
    {
        var options = new SocialVpnOptions { Pool = pool, EnableDns = false, InterfaceName = "svpn" + Nodes.Count };
        configure?.Invoke(options);
        FakeTincan tincan = Tincans.CreateNode(signaling.LocalId);
        var controller = new SocialVpnController(signaling, tincan, new Fakes.FakeInterfaceFactory(), Options.Create(options), NullLogger<SocialVpnController>.Instance, Time);
        controller.Negotiator.ManualPump = true;
        controller.Negotiator.Jitter = new Random(Nodes.Count + 1);
        Task run = controller.RunAsync(_stop.Token);
        await controller.Negotiator.Ready.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var node = new Node(signaling.LocalUser.Split('@')[0], signaling, tincan, controller, run);
        Nodes.Add(node);
        return node;
    }

    public Node this[string user] => Nodes.Single(n => n.User == user);

    /// <summary>Delivers every signaling event and lets every negotiator handle its queue, until nothing moves.</summary>
    public async Task SettleAsync()
    {
        for (int round = 0; round < 10_000; round++)
        {
            int moved = Signaling.DeliverPending();
            foreach (Node n in Nodes)
            {
                moved += await n.Controller.Negotiator.DrainAsync(CancellationToken.None);
            }

            if (moved == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException("The cluster did not settle in 10 000 rounds: a message loop?");
    }

    /// <summary>Advances the clock a second at a time (so every timer due fires in order), settling after each.</summary>
    public async Task SecondsAsync(double seconds, Action? eachSecond = null)
    {
        for (double t = 0; t < seconds; t++)
        {
            Time.Advance(TimeSpan.FromSeconds(Math.Min(1, seconds - t)));
            eachSecond?.Invoke();
            await SettleAsync();
        }
    }

    /// <summary>
    /// What the TUN of <paramref name="from"/> would do with a ping to <paramref name="to"/>'s address in its view: the
    /// router decides, and a packet routed to a link is sent on it (the data plane's part).
    /// </summary>
    public RouteDecision Ping(Node from, Node to, int id = 1)
    {
        IPAddress address = from.AddressOf(to);
        byte[] ping = WithChecksums(Build(from.Controller.Address!.Value.Address.ToString(), address.ToString(), 1, IcmpEcho(new byte[32]), id: id));
        RouteDecision d = from.Tincan.Router!.RouteOutbound(ping);
        if (d.Action == RouteAction.Unicast)
        {
            d.Link!.TrySend(ping);
        }

        return d;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Node n in Nodes)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => n.Run);
            await n.Signaling.DisposeAsync();
        }

        foreach (InMemorySignaling b in _bare)
        {
            await b.DisposeAsync();
        }

        _stop.Dispose();
    }

    internal sealed record Node(string User, InMemorySignaling Signaling, FakeTincan Tincan, SocialVpnController Controller, Task Run)
    {
        public PeerId Id => Signaling.LocalId;

        public IPAddress AddressOf(Node friend) => Controller.Book!.Entries[friend.Id.Value];

        /// <summary>This node's link to <paramref name="friend"/>, if any.</summary>
        public FakeTincanLink? LinkTo(Node friend) => Tincan.TryGetLink(friend.Id, out ITincanLink? l) ? (FakeTincanLink)l : null;
    }
}
