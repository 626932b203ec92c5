using System.Diagnostics;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// Losing the session to a real prosody never takes peers offline: they keep their last known state
/// through the outage, and only what really changed is reported after the reconnect.
/// </summary>
public sealed class XmppOutageTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(XmppSignaling A, XmppSignaling B, SignalingProbe Pa)> FriendsInOneRoomAsync(ProsodyFixture fixture, string prefix)
    {
        string[] users = await fixture.RegisterAsync(prefix, 2);
        string room = prefix + Guid.NewGuid().ToString("N")[..6];
        await fixture.CreateGroupAsync(room, users);
        var a = new XmppSignaling(fixture.Options(users[0], o =>
        {
            o.Groups.Add(room);
            o.PresenceSettleTime = Settle;
        }));
        var b = new XmppSignaling(fixture.Options(users[1], o =>
        {
            o.FriendRequestPolicy = FriendRequestPolicy.AcceptListed;
            o.AcceptedFriends.Add(users[0]);
            o.Groups.Add(room);
            o.PresenceSettleTime = Settle;
        }));
        var pa = new SignalingProbe(a);
        await a.ConnectAsync(Ct);
        await b.ConnectAsync(Ct);
        await a.RequestFriendshipAsync(users[1], Ct);
        const PeerRelationship Both = PeerRelationship.Friend | PeerRelationship.GroupMember;
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, Both), "A sees B online as friend and room member");
        return (a, b, pa);
    }

    [Fact]
    public async Task A_peer_stays_online_across_a_server_restart_and_no_offline_event_is_raised()
    {
        await using var fixture = new ProsodyFixture();
        await fixture.InitializeAsync();
        (XmppSignaling a, XmppSignaling b, SignalingProbe pa) = await FriendsInOneRoomAsync(fixture, "keep");
        await using (a)
        await using (b)
        {
            int eventsBefore = pa.PeerEvents.Count;

            await fixture.StopServerAsync();
            await SignalingProbe.WaitUntilAsync(() => !a.IsConnected && !b.IsConnected, "both notice the server is gone");
            await Task.Delay(TimeSpan.FromSeconds(2), Ct); // An outage long enough for anything that would react to it.
            Assert.Contains(a.Peers, p => p.Id == b.LocalId && p.Presence == PeerPresence.Online);

            await fixture.StartServerAgainAsync(Ct);
            await SignalingProbe.WaitUntilAsync(() => a.IsConnected && b.IsConnected, "both reconnect by themselves", TimeSpan.FromSeconds(15));
            var sinceReconnect = Stopwatch.StartNew();

            // Past the settle time: B came back, so it was confirmed and nothing was ever reported about it.
            await SignalingProbe.WaitUntilAsync(() => sinceReconnect.Elapsed > Settle + TimeSpan.FromSeconds(1), "the settle time passes", Settle + TimeSpan.FromSeconds(5));
            OverlayPeerEventArgs[] during = [.. pa.PeerEvents.Skip(eventsBefore)];
            Assert.DoesNotContain(during, e => e.Current.Presence == PeerPresence.Offline);
            Assert.DoesNotContain(during, e => e.Current.Id == b.LocalId);
            Assert.Contains(a.Peers, p => p.Id == b.LocalId && p.Presence == PeerPresence.Online && p.Relationship == (PeerRelationship.Friend | PeerRelationship.GroupMember));

            await b.SendAsync(a.LocalId, new OverlayMessage("link-offer", "after restart"), Ct);
            await SignalingProbe.WaitUntilAsync(() => pa.Messages.Any(m => m.Message.Body == "after restart"), "A gets B's message after the restart");
        }
    }

    [Fact]
    public async Task A_peer_that_left_during_the_outage_is_reported_offline_once_the_settle_time_after_the_reconnect_has_passed()
    {
        await using var fixture = new ProsodyFixture();
        await fixture.InitializeAsync();
        (XmppSignaling a, XmppSignaling b, SignalingProbe pa) = await FriendsInOneRoomAsync(fixture, "gone");
        await using (a)
        {
            PeerId bId = b.LocalId;
            await fixture.StopServerAsync();
            await SignalingProbe.WaitUntilAsync(() => !a.IsConnected, "A notices the server is gone");
            await b.DisposeAsync(); // B's node goes away for good while the server is down.
            int eventsBefore = pa.PeerEvents.Count;

            await fixture.StartServerAgainAsync(Ct);
            await SignalingProbe.WaitUntilAsync(() => a.IsConnected, "A reconnects", TimeSpan.FromSeconds(15));
            var sinceReconnect = Stopwatch.StartNew();
            await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(bId) is { Presence: PeerPresence.Offline }, "A reports B offline", Settle + TimeSpan.FromSeconds(10));
            TimeSpan took = sinceReconnect.Elapsed;

            // Reported once, by reconciliation after the settle time, not when the session was lost.
            OverlayPeerEventArgs offline = Assert.Single(pa.PeerEvents.Skip(eventsBefore), e => e.Current.Id == bId);
            Assert.Equal(PeerPresence.Online, offline.Previous?.Presence);
            Assert.Equal(PeerRelationship.Friend, offline.Current.Relationship); // Still a friend, no longer in the room.
            Assert.InRange(took, Settle - TimeSpan.FromSeconds(1), Settle + TimeSpan.FromSeconds(10));
            TestContext.Current.SendDiagnosticMessage($"B reported offline {took.TotalSeconds:0.0} s after A reconnected (settle time {Settle.TotalSeconds} s)");
        }
    }

    [Fact]
    public async Task A_friendship_ended_during_the_outage_is_reported_right_after_the_reconnect()
    {
        await using var fixture = new ProsodyFixture();
        await fixture.InitializeAsync();
        string[] users = await fixture.RegisterAsync("unfriend", 2);

        // A comes back 4 s after the server, B at once: B ends the friendship while A is still away.
        await using var a = new XmppSignaling(fixture.Options(users[0], o =>
        {
            o.PresenceSettleTime = TimeSpan.FromMinutes(5);
            o.ReconnectMinDelay = TimeSpan.FromSeconds(4);
            o.ReconnectMaxDelay = TimeSpan.FromSeconds(4);
        }));
        await using var b = new XmppSignaling(fixture.Options(users[1], o =>
        {
            o.FriendRequestPolicy = FriendRequestPolicy.AcceptListed;
            o.AcceptedFriends.Add(users[0]);
        }));
        var pa = new SignalingProbe(a);
        await a.ConnectAsync(Ct);
        await b.ConnectAsync(Ct);
        await a.RequestFriendshipAsync(users[1], Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend), "A and B are friends");

        await fixture.StopServerAsync();
        await SignalingProbe.WaitUntilAsync(() => !a.IsConnected && !b.IsConnected, "both notice the server is gone");
        int eventsBefore = pa.PeerEvents.Count;
        await fixture.StartServerAgainAsync(Ct);
        await SignalingProbe.WaitUntilAsync(() => b.IsConnected, "B reconnects first", TimeSpan.FromSeconds(10));
        await b.RemoveFriendAsync(users[0], Ct);
        Assert.False(a.IsConnected, "A came back before B ended the friendship; the test proves nothing");
        Assert.Equal(eventsBefore, pa.PeerEvents.Count);

        await SignalingProbe.WaitUntilAsync(() => a.IsConnected, "A reconnects", TimeSpan.FromSeconds(15));
        var sinceReconnect = Stopwatch.StartNew();
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId) is { Relationship: PeerRelationship.None }, "A sees the friendship end", TimeSpan.FromSeconds(10));
        Assert.True(sinceReconnect.Elapsed < TimeSpan.FromSeconds(5), $"reported {sinceReconnect.Elapsed} after the reconnect: the roster, not the settle time, must report it");
    }
}
