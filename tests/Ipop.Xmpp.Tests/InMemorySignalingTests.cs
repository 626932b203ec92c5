namespace Ipop.Xmpp.Tests;

/// <summary>In-memory specifics: outages and restarts.</summary>
public sealed class InMemorySignalingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

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
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend | PeerRelationship.GroupMember), "A sees B");

        b.SimulateDisconnect();
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId) is { Presence: PeerPresence.Offline, Relationship: PeerRelationship.Friend }, "A sees B offline, still a friend");
        await Assert.ThrowsAsync<InvalidOperationException>(() => b.SendAsync(a.LocalId, new OverlayMessage("k", "x"), Ct));
        b.SimulateReconnect();
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend | PeerRelationship.GroupMember), "A sees B back in the group");

        network.SimulateServerRestart();
        await SignalingProbe.WaitUntilAsync(() => pa.ConnectionEvents.Count(e => !e.IsConnected) == 1 && pa.ConnectionEvents.Last().IsConnected, "A went down and up");
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend | PeerRelationship.GroupMember), "A sees B after the restart");
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
        await SignalingProbe.WaitUntilAsync(() => pb.FriendRequests.Contains("a@lab.test"), "B is asked on connect");
    }
}
