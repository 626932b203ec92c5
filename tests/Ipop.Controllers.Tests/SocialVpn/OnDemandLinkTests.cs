using Ipop.Controllers.SocialVpn;
using Ipop.Testing;
using static Ipop.Controllers.Tests.SocialVpn.Ipv4Packets;

namespace Ipop.Controllers.Tests.SocialVpn;

/// <summary>Issue 16: SocialVPN links friends on demand, holds the first packets, and releases idle links.</summary>
public sealed class OnDemandLinkTests : IAsyncDisposable
{
    private readonly SocialCluster _cluster = new();

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();

    /// <summary>alice with friends bob and carol, all three running SocialVPN with <paramref name="configure"/>.</summary>
    private async Task<(SocialCluster.Node Alice, SocialCluster.Node Bob, SocialCluster.Node Carol)> ThreeAsync(Action<SocialVpnOptions>? configure = null)
    {
        InMemorySignaling a = _cluster.CreateSignaling("alice");
        InMemorySignaling b = _cluster.CreateSignaling("bob", "alice");
        InMemorySignaling c = _cluster.CreateSignaling("carol", "alice");
        SocialCluster.Node alice = await _cluster.StartAsync(a, "198.19.96.0/20", configure);
        await a.RequestFriendshipAsync("bob@lab.test", CancellationToken.None);
        await a.RequestFriendshipAsync("carol@lab.test", CancellationToken.None);
        SocialCluster.Node bob = await _cluster.StartAsync(b, "198.19.112.0/24", configure);
        SocialCluster.Node carol = await _cluster.StartAsync(c, "198.19.113.0/24", configure);
        await _cluster.SettleAsync();
        return (alice, bob, carol);
    }

    [Fact]
    public async Task Online_friends_have_no_link_until_the_first_packet_which_is_held_and_sent_once_linked()
    {
        (SocialCluster.Node alice, SocialCluster.Node bob, SocialCluster.Node carol) = await ThreeAsync();
        long quiet = _cluster.Messages;
        Assert.Empty(alice.Tincan.Links);
        Assert.Empty(bob.Tincan.Links);
        Assert.Equal(2, alice.Controller.GetFriends().Count);
        Assert.All(alice.Controller.GetFriends(), f => Assert.Null(f.Link));
        Assert.Equal(0, quiet); // friends that are online but silent cost no signaling at all

        // The first ping to bob: held (not answered as unreachable), and bob is now wanted.
        Assert.Equal(RouteAction.Drop, _cluster.Ping(alice, bob).Action);
        Assert.Equal(1, alice.Controller.Held!.Count);
        await _cluster.SettleAsync();

        FakeTincanLink link = Assert.IsType<FakeTincanLink>(alice.LinkTo(bob));
        Assert.Equal(LinkState.Connected, link.Status.State);
        Assert.Equal(1, link.SentPackets); // the held ping went out through the new link
        Assert.Equal(0, alice.Controller.Held!.Count);
        Assert.Equal(1, alice.Controller.Held.Sent);
        Assert.Null(alice.LinkTo(carol));
        Assert.Equal([bob.Id], alice.Controller.Wanted);
        Assert.Empty(bob.Controller.Wanted); // bob answered without wanting the link himself
        Assert.InRange(_cluster.Messages - quiet, 2, 4);

        // The steady state goes straight to the link.
        Assert.Same(link, _cluster.Ping(alice, bob, id: 2).Link);
        Assert.Equal(2, link.SentPackets);

        // Bob's reply goes over the link alice made, without bob holding or wanting anything.
        Assert.Equal(RouteAction.Unicast, _cluster.Ping(bob, alice).Action);
        Assert.Empty(bob.Controller.Wanted);
    }

    [Fact]
    public async Task An_idle_link_is_released_on_both_sides_and_the_next_packet_brings_it_back()
    {
        (SocialCluster.Node alice, SocialCluster.Node bob, _) = await ThreeAsync(o => o.LinkIdleSeconds = 20);
        _cluster.Ping(alice, bob);
        await _cluster.SettleAsync();
        Assert.NotNull(alice.LinkTo(bob));

        // Traffic every few seconds keeps it: 60 s, three idle times.
        int id = 10;
        await _cluster.SecondsAsync(60, () =>
        {
            if (_cluster.Time.GetUtcNow().Second % 5 == 0)
            {
                _cluster.Ping(alice, bob, id++);
            }
        });
        Assert.Equal(LinkState.Connected, alice.LinkTo(bob)!.Status.State);
        Assert.Equal(0, alice.Controller.Reaped);

        // Silence: released between 20 and 25 s later (checks every idle/4), on both sides.
        long wakeupsBefore = alice.Controller.Negotiator.Wakeups;
        await _cluster.SecondsAsync(19);
        Assert.NotNull(alice.LinkTo(bob));
        await _cluster.SecondsAsync(6);
        Assert.Null(alice.LinkTo(bob));
        Assert.Null(bob.LinkTo(alice));
        Assert.Equal(1, alice.Controller.Reaped);
        Assert.Empty(alice.Controller.Wanted);
        Assert.InRange(alice.Controller.Negotiator.Wakeups - wakeupsBefore, 1, 10);

        // Nothing wanted, nothing held: the node sleeps (no timer armed by the policy).
        long idleWakeups = alice.Controller.Negotiator.Wakeups;
        await _cluster.SecondsAsync(120);
        Assert.Equal(idleWakeups, alice.Controller.Negotiator.Wakeups);

        // The next ping brings it back, and is delivered.
        Assert.Equal(RouteAction.Drop, _cluster.Ping(alice, bob, 99).Action);
        await _cluster.SettleAsync();
        Assert.Equal(LinkState.Connected, alice.LinkTo(bob)!.Status.State);
        Assert.Equal(1, alice.LinkTo(bob)!.SentPackets);
    }

    [Fact]
    public async Task Held_packets_are_bounded_and_those_whose_link_never_comes_expire_and_are_counted()
    {
        InMemorySignaling a = _cluster.CreateSignaling("alice");
        InMemorySignaling d = _cluster.AddBare("dave", "alice"); // online, a friend, but runs no SocialVPN: never answers
        SocialCluster.Node alice = await _cluster.StartAsync(a, "198.19.96.0/20", o => (o.HoldPacketsPerFriend, o.HoldSeconds) = (3, 2));
        await a.RequestFriendshipAsync("dave@lab.test", CancellationToken.None);
        await d.ConnectAsync(CancellationToken.None);
        await _cluster.SettleAsync();
        FriendStatus dave = Assert.Single(alice.Controller.GetFriends());

        for (int i = 0; i < 10; i++)
        {
            byte[] ping = WithChecksums(Build("198.19.96.1", dave.Address.Address.ToString(), 1, IcmpEcho(new byte[8]), id: i));
            Assert.Equal(RouteAction.Drop, alice.Tincan.Router!.RouteOutbound(ping).Action);
        }

        HeldPackets held = alice.Controller.Held!;
        Assert.Equal(3, held.Count);
        Assert.Equal(7, held.Overflow);
        await _cluster.SettleAsync();
        Assert.Equal([d.LocalId], alice.Controller.Wanted);

        await _cluster.SecondsAsync(3);
        Assert.Equal(0, held.Count);
        Assert.Equal(3, held.Expired);
        Assert.Equal(0, held.Sent);

        // An address in our pool that is nobody's is still answered as unreachable at once.
        byte[] nobody = WithChecksums(Build("198.19.96.1", "198.19.100.77", 1, IcmpEcho(new byte[8])));
        Assert.Equal(RouteAction.Unreachable, alice.Tincan.Router!.RouteOutbound(nobody).Action);
    }

    [Fact]
    public async Task Links_always_keeps_the_full_mesh_of_online_friends()
    {
        (SocialCluster.Node alice, SocialCluster.Node bob, SocialCluster.Node carol) = await ThreeAsync(o => o.Links = SocialVpnOptions.AlwaysLinks);
        Assert.True(_cluster.Tincans.AreLinked(alice.Id, bob.Id));
        Assert.True(_cluster.Tincans.AreLinked(alice.Id, carol.Id));
        Assert.Null(alice.Controller.Held);
        await _cluster.SecondsAsync(300);
        Assert.True(_cluster.Tincans.AreLinked(alice.Id, bob.Id));
    }

    [Fact]
    public async Task The_steady_state_packet_path_allocates_nothing()
    {
        (SocialCluster.Node alice, SocialCluster.Node bob, _) = await ThreeAsync();
        _cluster.Ping(alice, bob);
        await _cluster.SettleAsync();
        byte[] ping = WithChecksums(Build("198.19.96.1", alice.AddressOf(bob).ToString(), 1, IcmpEcho(new byte[32])));
        IPacketRouter router = alice.Tincan.Router!;
        router.RouteOutbound(ping);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            router.RouteOutbound(ping);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Held_packets_respect_the_total_bound_across_friends_and_a_released_link_gets_them_oldest_first()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var held = new HeldPackets(perFriend: 2, total: 3, TimeSpan.FromSeconds(5), time);
        var bob = new PeerId("bob@lab.test/1");
        var carol = new PeerId("carol@lab.test/1");
        Assert.True(held.Hold(bob, [1], out bool first) && first);
        Assert.True(held.Hold(bob, [2], out first) && !first);
        Assert.False(held.Hold(bob, [3], out _)); // bob's bound
        Assert.True(held.Hold(carol, [4], out first) && first);
        Assert.False(held.Hold(carol, [5], out first)); // the total bound, though carol has room
        Assert.Equal((3, 2L), (held.Count, held.Overflow));

        var link = new RecordingLink(bob);
        Assert.Equal(2, held.Release(link));
        Assert.Equal([1, 2], link.Sent.Select(p => (int)p[0]));
        Assert.Equal(0, held.Release(link)); // nothing twice
        Assert.Equal(1, held.Forget(carol));
        Assert.Equal((0, 2L, 1L), (held.Count, held.Sent, held.Expired));
    }

    private sealed class RecordingLink(PeerId peer) : ITincanLink
    {
        public List<byte[]> Sent { get; } = [];

        public PeerId Peer => peer;

        public NodePublicKey PeerKey => default;

        public LinkStatus Status => new(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);

        public LinkStats GetStats() => new();

        public bool TrySend(ReadOnlySpan<byte> packet)
        {
            Sent.Add(packet.ToArray());
            return true;
        }

        public bool TrySendControl(ReadOnlySpan<byte> message) => true;
    }

    [Theory]
    [InlineData("Links", "SocialVpn:Links must be 'on-demand' or 'always', got 'sometimes'.")]
    [InlineData("LinkIdleSeconds", "SocialVpn:LinkIdleSeconds must be between 1 and 604800 (a week), got 0.")]
    [InlineData("HoldPacketsPerFriend", "SocialVpn:HoldPacketsPerFriend must be between 1 and 1024, got 0.")]
    [InlineData("HoldPacketsTotal", "SocialVpn:HoldPacketsTotal must be between HoldPacketsPerFriend (8) and 65536, got 4.")]
    [InlineData("HoldSeconds", "SocialVpn:HoldSeconds must be between 0.1 and 60, got 0.")]
    public void Bad_on_demand_options_are_refused_with_the_key(string key, string message)
    {
        var o = new SocialVpnOptions();
        switch (key)
        {
            case "Links": o.Links = "sometimes"; break;
            case "LinkIdleSeconds": o.LinkIdleSeconds = 0; break;
            case "HoldPacketsPerFriend": (o.HoldPacketsPerFriend, o.HoldPacketsTotal) = (0, 256); break;
            case "HoldPacketsTotal": o.HoldPacketsTotal = 4; break;
            default: o.HoldSeconds = 0; break;
        }

        Assert.Equal([message], o.Validate());
        Assert.Empty(new SocialVpnOptions().Validate());
        Assert.Equal(SocialVpnOptions.OnDemandLinks, new SocialVpnOptions().Links);
    }
}
