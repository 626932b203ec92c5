namespace Ipop.Xmpp.Tests;

/// <summary>Server restarts (prosody and ejabberd): clients reconnect by themselves and rebuild roster, presence and rooms.</summary>
public sealed class XmppReconnectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A private server of its own for one test (these tests kill or freeze it).</summary>
    private static XmppServerFixture Server(string kind) => kind switch
    {
        "prosody" => new ProsodyFixture(),
        "ejabberd" => new EjabberdFixture(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown server"),
    };

    [Theory]
    [InlineData("prosody")]
    [InlineData("ejabberd")]
    public async Task Clients_reconnect_after_the_server_goes_down_and_comes_back_and_see_each_other_again(string kind)
    {
        // prosody is killed (SIGKILL); ejabberd is stopped with SIGTERM (see EjabberdFixture.StopServerAsync).
        XmppServerFixture fixture = Server(kind);
        await fixture.InitializeAsync();
        try
        {
            string[] users = await fixture.RegisterAsync("restart", 2);
            string room = "restart" + Guid.NewGuid().ToString("N")[..6];
            await fixture.CreateGroupAsync(room, users);
            await using var a = new XmppSignaling(fixture.Options(users[0], o => o.Groups.Add(room)));
            await using var b = new XmppSignaling(fixture.Options(users[1], o =>
            {
                o.FriendRequestPolicy = FriendRequestPolicy.AcceptListed;
                o.AcceptedFriends.Add(users[0]);
                o.Groups.Add(room);
            }));
            var pa = new SignalingProbe(a);
            var pb = new SignalingProbe(b);
            await a.ConnectAsync(Ct);
            await b.ConnectAsync(Ct);
            await a.RequestFriendshipAsync(users[1], Ct);
            const PeerRelationship Both = PeerRelationship.Friend | PeerRelationship.GroupMember;
            await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, Both) && pb.SeesOnline(a.LocalId, Both), "A and B are friends in one room");
            PeerId bBefore = b.LocalId;

            await fixture.StopServerAsync();
            await SignalingProbe.WaitUntilAsync(() => !a.IsConnected && !b.IsConnected, "both notice the server is gone");
            await SignalingProbe.WaitUntilAsync(() => pa.ConnectionEvents.Any(e => !e.IsConnected && e.Reason is not null), "A raises ConnectionChanged(false) with a reason");

            // Losing the server says nothing about B: A keeps B as it was and raises nothing.
            Assert.True(pa.SeesOnline(b.LocalId, Both));
            Assert.Contains(a.Peers, p => p.Id == b.LocalId && p.Presence == PeerPresence.Online);

            await fixture.StartServerAgainAsync(Ct);
            await SignalingProbe.WaitUntilAsync(() => a.IsConnected && b.IsConnected, "both reconnect by themselves", TimeSpan.FromSeconds(15));
            await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, Both) && pb.SeesOnline(a.LocalId, Both), "A and B see each other online again as friends and room members", TimeSpan.FromSeconds(15));
            Assert.DoesNotContain(pa.PeerEvents, e => e.Current.Id == b.LocalId && e.Current.Presence == PeerPresence.Offline);
            Assert.Equal(bBefore, b.LocalId);
            await SignalingProbe.WaitUntilAsync(() => pa.ConnectionEvents.LastOrDefault()?.IsConnected == true, "A raises ConnectionChanged(true)"); // raised on the event queue, after IsConnected

            // The session works end to end again.
            await a.SendAsync(b.LocalId, new OverlayMessage("link-offer", "after restart"), Ct);
            await SignalingProbe.WaitUntilAsync(() => pb.Messages.Any(m => m.Message.Body == "after restart"), "B gets a message after the restart");
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("prosody")]
    [InlineData("ejabberd")]
    public async Task A_frozen_server_is_detected_by_keepalive_and_the_client_reconnects_when_it_thaws(string kind)
    {
        XmppServerFixture fixture = Server(kind);
        await fixture.InitializeAsync();
        try
        {
            string[] users = await fixture.RegisterAsync("frozen", 1);
            await using var a = new XmppSignaling(fixture.Options(users[0], o =>
            {
                o.KeepaliveInterval = TimeSpan.FromSeconds(1);
                o.ConnectTimeout = TimeSpan.FromSeconds(2);
            }));
            var pa = new SignalingProbe(a);
            await a.ConnectAsync(Ct);

            await fixture.PauseServerAsync();
            await SignalingProbe.WaitUntilAsync(() => !a.IsConnected, "the client declares the silent connection dead", TimeSpan.FromSeconds(6));
            // ConnectionChanged is raised on the event queue, a moment after IsConnected turns false.
            await SignalingProbe.WaitUntilAsync(() => pa.ConnectionEvents.Any(e => e.Reason?.Contains("keepalive", StringComparison.Ordinal) == true), "A raises ConnectionChanged(false) naming the keepalive");

            await fixture.ResumeServerAsync();
            await SignalingProbe.WaitUntilAsync(() => a.IsConnected, "the client reconnects after the server thaws", TimeSpan.FromSeconds(15));
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("prosody")]
    [InlineData("ejabberd")]
    public async Task Two_nodes_of_one_user_see_each_other_as_friends(string kind)
    {
        XmppServerFixture fixture = Server(kind);
        await fixture.InitializeAsync();
        try
        {
            string[] users = await fixture.RegisterAsync("twin", 1);
            await using var first = new XmppSignaling(fixture.Options(users[0]));
            await using var second = new XmppSignaling(fixture.Options(users[0]));
            var p1 = new SignalingProbe(first);
            var p2 = new SignalingProbe(second);
            await first.ConnectAsync(Ct);
            await second.ConnectAsync(Ct);
            Assert.NotEqual(first.LocalId, second.LocalId);
            await SignalingProbe.WaitUntilAsync(() => p1.SeesOnline(second.LocalId, PeerRelationship.Friend) && p2.SeesOnline(first.LocalId, PeerRelationship.Friend), "the twins see each other");
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }
}
