using Ipop.Xmpp;

namespace Ipop.Testing.Tests.Signaling;

/// <summary>In-memory specifics: outages and restarts, faults, and the awaitable connection and delivery.</summary>
public sealed class InMemorySignalingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every event raised so far has reached its handlers (no polling, no sleep): then the condition must hold.</summary>
    private static async Task UntilAsync(InMemorySignalingNetwork network, Func<bool> condition, string what)
    {
        await network.WhenDeliveredAsync();
        Assert.True(condition(), $"not so: {what}");
    }

    [Fact]
    public async Task Server_restart_reports_peers_offline_then_online_again()
    {
        var network = new InMemorySignalingNetwork();
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        await using InMemorySignaling b = network.CreateNode("b@lab.test", FriendRequestPolicy.AcceptListed, ["a@lab.test"]);
        var pa = new SignalingProbe(a);
        await a.ConnectAsync(Ct);
        await b.ConnectAsync(Ct);
        await a.JoinGroupAsync("lab", Ct);
        await b.JoinGroupAsync("lab", Ct);
        await a.RequestFriendshipAsync("b@lab.test", Ct);
        await UntilAsync(network, () => pa.SeesOnline(b.LocalId, PeerRelationship.Friend | PeerRelationship.GroupMember), "A sees B");

        b.SimulateDisconnect();
        await UntilAsync(network, () => pa.LastSeen(b.LocalId) is { Presence: PeerPresence.Offline, Relationship: PeerRelationship.Friend }, "A sees B offline, still a friend");
        await Assert.ThrowsAsync<InvalidOperationException>(() => b.SendAsync(a.LocalId, new OverlayMessage("k", "x"), Ct));
        b.SimulateReconnect();
        await UntilAsync(network, () => pa.SeesOnline(b.LocalId, PeerRelationship.Friend | PeerRelationship.GroupMember), "A sees B back in the group");

        network.SimulateServerRestart();
        await UntilAsync(network, () => pa.ConnectionEvents.Count(e => !e.IsConnected) == 1 && pa.ConnectionEvents.Last().IsConnected, "A went down and up");
        await UntilAsync(network, () => pa.SeesOnline(b.LocalId, PeerRelationship.Friend | PeerRelationship.GroupMember), "A sees B after the restart");
        Assert.True(network.AreFriends("a@lab.test", "b@lab.test"));
    }

    [Fact]
    public async Task Friend_request_to_an_offline_user_is_delivered_when_it_connects()
    {
        var network = new InMemorySignalingNetwork();
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        await using InMemorySignaling b = network.CreateNode("b@lab.test");
        var pb = new SignalingProbe(b);
        await a.ConnectAsync(Ct);
        await a.RequestFriendshipAsync("b@lab.test", Ct);
        await b.ConnectAsync(Ct);
        await UntilAsync(network, () => pb.FriendRequests.Contains("a@lab.test"), "B is asked on connect");
    }

    [Fact]
    public async Task During_a_server_outage_nodes_keep_their_view_sends_fail_and_the_reconnect_reconciles()
    {
        var network = new InMemorySignalingNetwork { ManualDelivery = true };
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        await using InMemorySignaling b = network.CreateNode("b@lab.test");
        await using InMemorySignaling c = network.CreateNode("c@lab.test");
        var pa = new SignalingProbe(a);
        foreach (InMemorySignaling n in new[] { a, b, c })
        {
            await n.ConnectAsync(Ct);
            await n.JoinGroupAsync("lab", Ct);
        }

        network.DeliverPending();
        Assert.True(pa.SeesOnline(b.LocalId, PeerRelationship.GroupMember) && pa.SeesOnline(c.LocalId, PeerRelationship.GroupMember));
        int events = pa.PeerEvents.Count;

        network.SimulateServerOutage();
        network.DeliverPending();
        Assert.False(a.IsConnected);
        Assert.False(pa.ConnectionEvents.Last().IsConnected);
        Assert.Equal(events, pa.PeerEvents.Count);
        Assert.All(a.Peers, p => Assert.Equal(PeerPresence.Online, p.Presence));
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.SendAsync(b.LocalId, new OverlayMessage("k", "x"), Ct));

        // C leaves the group while nobody can hear it; a reconnecting node does not resume (the server is down).
        await c.LeaveGroupAsync("lab", Ct);
        a.SimulateReconnect();
        network.DeliverPending();
        Assert.Equal(events, pa.PeerEvents.Count);

        network.EndServerOutage();
        network.DeliverPending();
        Assert.True(a.IsConnected);
        Assert.True(pa.SeesOnline(b.LocalId, PeerRelationship.GroupMember));
        Assert.False(pa.SeesOnline(c.LocalId, PeerRelationship.GroupMember));
        await a.SendAsync(b.LocalId, new OverlayMessage("k", "x"), Ct);
        Assert.Equal(1, network.DeliverPending());
    }

    [Fact]
    public async Task Faults_drop_duplicate_and_reorder_messages_from_a_seeded_random()
    {
        var network = new InMemorySignalingNetwork { ManualDelivery = true };
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        await using InMemorySignaling b = network.CreateNode("b@lab.test");
        var pb = new SignalingProbe(b);
        await a.ConnectAsync(Ct);
        await b.ConnectAsync(Ct);
        await a.JoinGroupAsync("lab", Ct);
        await b.JoinGroupAsync("lab", Ct);
        network.DeliverPending();

        async Task<List<string>> SendAsync(InMemorySignalingFaults faults)
        {
            network.Faults = faults;
            while (pb.Messages.TryDequeue(out _))
            {
            }

            for (int i = 0; i < 200; i++)
            {
                await a.SendAsync(b.LocalId, new OverlayMessage("k", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Ct);
            }

            network.DeliverPending();
            return [.. pb.Messages.Select(m => m.Message.Body)];
        }

        Assert.Empty(await SendAsync(new InMemorySignalingFaults(new Random(1)) { DropProbability = 1 }));
        Assert.Equal(400, (await SendAsync(new InMemorySignalingFaults(new Random(1)) { DuplicateProbability = 1 })).Count);
        List<string> reordered = await SendAsync(new InMemorySignalingFaults(new Random(1)) { ReorderProbability = 0.3 });
        Assert.Equal(200, reordered.Count);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), reordered.Order());
        Assert.NotEqual(Enumerable.Range(0, 200).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), reordered);
        List<string> again = await SendAsync(new InMemorySignalingFaults(new Random(1)) { ReorderProbability = 0.3 });
        Assert.Equal(reordered, again); // same seed, same order
        Assert.Throws<ArgumentOutOfRangeException>(() => network.Faults = new InMemorySignalingFaults(new Random(1)) { DropProbability = 1.5 });
    }

    [Fact]
    public async Task Connection_and_delivery_are_awaitable_so_tests_need_no_sleeps()
    {
        var network = new InMemorySignalingNetwork();
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        await using InMemorySignaling b = network.CreateNode("b@lab.test", FriendRequestPolicy.AcceptListed, ["a@lab.test"]);
        Task connected = a.WaitUntilConnectedAsync(TestContext.Current.CancellationToken);
        Assert.False(connected.IsCompleted);
        var seen = new List<OverlayPeer>();
        b.PeerChanged += (_, e) => seen.Add(e.Current);

        await a.ConnectAsync(TestContext.Current.CancellationToken);
        await b.ConnectAsync(TestContext.Current.CancellationToken);
        await connected;
        await a.RequestFriendshipAsync("b@lab.test", TestContext.Current.CancellationToken);
        await network.WhenDeliveredAsync();

        // No sleep: every event raised so far has reached its handler.
        OverlayPeer last = Assert.Single(seen, p => p.Id == a.LocalId && p.Presence == PeerPresence.Online);
        Assert.Equal(PeerRelationship.Friend, last.Relationship);
    }

    [Fact]
    public void Users_must_be_bare_jids()
    {
        var network = new InMemorySignalingNetwork();
        Assert.Contains("not a bare user JID", Assert.Throws<ArgumentException>(() => network.CreateNode("alice")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => network.CreateNode("alice@lab.test/res"));
        Assert.Equal("alice@lab.test", network.CreateNode("Alice@Lab.Test").LocalUser);
    }
}
