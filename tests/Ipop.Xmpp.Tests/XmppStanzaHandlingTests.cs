namespace Ipop.Xmpp.Tests;

/// <summary>What the client accepts from a (scripted) server: marker presence, trusted senders, bounded messages, genuine roster pushes.</summary>
public sealed class XmppStanzaHandlingTests
{
    private const string Marker = "<ipop xmlns='urn:ipop:signaling:1' ver='1'/>";

    [Fact]
    public async Task Only_marked_sessions_of_friends_count_and_only_their_bounded_messages_are_delivered()
    {
        var pushAnswered = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync(rosterItems: "<item jid='bob@lab.test' subscription='both'/><item jid='carol@lab.test' subscription='to'/>");
            await s.SendAsync($"<presence from='bob@lab.test/ipop-9'>{Marker}</presence>");
            await s.SendAsync("<presence from='bob@lab.test/phone'><show>away</show></presence>");
            await s.SendAsync($"<presence from='carol@lab.test/ipop-3'>{Marker}</presence>");
            await s.SendAsync("<message from='bob@lab.test/ipop-9' type='normal'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>one</ipop></message>");
            await s.SendAsync($"<message from='bob@lab.test/ipop-9'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>{new string('x', OverlayMessage.MaxBodyLength + 1)}</ipop></message>");
            await s.SendAsync("<message from='bob@lab.test/ipop-9'><ipop xmlns='urn:ipop:signaling:1' kind='bad kind'>x</ipop></message>");
            await s.SendAsync("<message from='bob@lab.test/phone'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>from phone</ipop></message>");
            await s.SendAsync("<message from='carol@lab.test/ipop-3'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>from carol</ipop></message>");
            await s.SendAsync("<message from='bob@lab.test/ipop-9'><body>plain chat</body></message>");
            await s.SendAsync("<iq type='set' id='spoof1' from='mallory@lab.test/x'><query xmlns='jabber:iq:roster'><item jid='mallory@lab.test' subscription='both'/></query></iq>");
            pushAnswered.TrySetResult(await s.WaitForAsync("spoof1\"", 5) + await s.WaitForAsync("</iq>", 5));
            await s.SendAsync("<message from='bob@lab.test/ipop-9'><ipop xmlns='urn:ipop:signaling:1' kind='link-answer'>two</ipop></message>");
            await s.SendAsync("<presence from='bob@lab.test/ipop-9' type='unavailable'/>");
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options());
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);

        var bob = new PeerId("bob@lab.test/ipop-9");
        await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(bob) is { Presence: PeerPresence.Offline }, "bob's node comes and goes");
        string pushReply = await pushAnswered.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Contains("type=\"error\"", pushReply, StringComparison.Ordinal);
        Assert.Contains("service-unavailable", pushReply, StringComparison.Ordinal);
        Assert.Equal(2, node.RosterCount);

        Assert.Equal(["one", "two"], probe.Messages.Select(m => m.Message.Body));
        Assert.All(probe.Messages, m => Assert.Equal(bob, m.From));
        Assert.Equal(4, node.DroppedMessages);
        Assert.DoesNotContain(probe.PeerEvents, e => e.Current.Id.Value.EndsWith("/phone", StringComparison.Ordinal));
        Assert.DoesNotContain(probe.PeerEvents, e => e.Current.User == "carol@lab.test");
        Assert.Equal([PeerPresence.Online, PeerPresence.Offline], probe.PeerEvents.Where(e => e.Current.Id == bob).Select(e => e.Current.Presence));
        Assert.All(probe.PeerEvents, e => Assert.Equal(PeerRelationship.Friend, e.Current.Relationship));
    }

    [Fact]
    public async Task A_message_that_overtakes_its_known_senders_presence_is_held_until_the_presence_comes()
    {
        // A member whose session just came back sends at once; the server delivers that message before the presence
        // that makes the sender online again. A sender we never knew gets nothing held; a held message whose
        // presence never follows is dropped after the hold (counted when the next message comes).
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        using var next = new SemaphoreSlim(0);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync(rosterItems: "<item jid='bob@lab.test' subscription='both'/><item jid='dan@lab.test' subscription='both'/>");
            await s.SendAsync($"<presence from='bob@lab.test/ipop-9'>{Marker}</presence>");
            await s.SendAsync($"<presence from='dan@lab.test/ipop-4'>{Marker}</presence>");
            await s.SendAsync("<presence from='bob@lab.test/ipop-9' type='unavailable'/>");
            await s.SendAsync("<presence from='dan@lab.test/ipop-4' type='unavailable'/>");
            await s.SendAsync("<message from='bob@lab.test/ipop-9'><ipop xmlns='urn:ipop:signaling:1' kind='link-request'>early</ipop></message>");
            await s.SendAsync("<message from='bob@lab.test/ipop-7'><ipop xmlns='urn:ipop:signaling:1' kind='link-request'>unknown resource</ipop></message>");
            await s.SendAsync($"<presence from='bob@lab.test/ipop-9'>{Marker}</presence>");
            await s.SendAsync("<message from='dan@lab.test/ipop-4'><ipop xmlns='urn:ipop:signaling:1' kind='link-request'>never followed</ipop></message>");
            await next.WaitAsync(TimeSpan.FromSeconds(10));
            await s.SendAsync("<message from='bob@lab.test/ipop-9'><ipop xmlns='urn:ipop:signaling:1' kind='link-answer'>later</ipop></message>");
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options(), null, time);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);

        var bob = new PeerId("bob@lab.test/ipop-9");
        await SignalingProbe.WaitUntilAsync(() => !probe.Messages.IsEmpty, "bob's early message delivered after his presence");
        Assert.Equal(["early"], probe.Messages.Select(m => m.Message.Body));
        Assert.Equal(1, node.DroppedMessages); // the unknown resource, at once
        int onlineAgain = probe.PeerEvents.ToList().FindLastIndex(e => e.Current.Id == bob && e.Current.Presence == PeerPresence.Online);
        Assert.True(onlineAgain > 0, "bob came back online");

        time.Advance(TimeSpan.FromSeconds(4));
        next.Release();
        await SignalingProbe.WaitUntilAsync(() => probe.Messages.Count >= 2, "bob's later message");
        Assert.Equal(["early", "later"], probe.Messages.Select(m => m.Message.Body));
        Assert.Equal(2, node.DroppedMessages); // dan's, once the hold was over
    }

    [Fact]
    public async Task Offline_peers_stay_listed_for_a_while_and_are_then_forgotten()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        using var next = new SemaphoreSlim(0);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync(rosterItems: "<item jid='bob@lab.test' subscription='both'/><item jid='dan@lab.test' subscription='both'/>");
            await s.SendAsync($"<presence from='bob@lab.test/ipop-1'>{Marker}</presence>");
            await s.SendAsync("<presence from='bob@lab.test/ipop-1' type='unavailable'/>");
            await next.WaitAsync(TimeSpan.FromSeconds(10));
            await s.SendAsync($"<presence from='dan@lab.test/ipop-2'>{Marker}</presence>");
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options(), null, time);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);

        var bob = new PeerId("bob@lab.test/ipop-1");
        await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(bob) is { Presence: PeerPresence.Offline }, "bob's node comes and goes");
        Assert.Contains(node.Peers, p => p.Id == bob && p.Presence == PeerPresence.Offline);

        // Long after, the next presence change prunes bob (a restarted node comes back under a new resource).
        time.Advance(XmppSignaling.OfflineRetention + TimeSpan.FromSeconds(1));
        next.Release();
        await SignalingProbe.WaitUntilAsync(() => node.Peers.Any(p => p.Id.Value == "dan@lab.test/ipop-2"), "dan's node online");
        Assert.DoesNotContain(node.Peers, p => p.Id == bob);
    }

    [Theory]
    [InlineData(null, "<priority>-1</priority>")]
    [InlineData(0, "<priority>0</priority>")]
    [InlineData(-128, "<priority>-128</priority>")]
    public async Task Initial_presence_carries_the_configured_priority(int? priority, string expected)
    {
        var presence = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            string received = s.Received;
            presence.TrySetResult(received[received.LastIndexOf("<presence", StringComparison.Ordinal)..]);
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options(o => o.PresencePriority = priority ?? o.PresencePriority));
        await node.ConnectAsync(TestContext.Current.CancellationToken);

        string initial = await presence.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Contains(expected, initial, StringComparison.Ordinal);
        Assert.Contains("urn:ipop:signaling:1", initial, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscription_requests_follow_the_policy()
    {
        var replies = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync(rosterItems: "<item jid='dave@lab.test' subscription='none' ask='subscribe'/>");
            await s.SendAsync("<presence from='erin@lab.test' type='subscribe'/>");
            await s.SendAsync("<presence from='frank@lab.test' type='subscribe'/>");
            await s.SendAsync("<presence from='dave@lab.test' type='subscribe'/>");
            string text = string.Empty;
            while (!text.Contains("to=\"dave@lab.test\" type=\"subscribed\"", StringComparison.Ordinal))
            {
                text += await s.WaitForAsync("/>", 5);
            }

            replies.TrySetResult(text);
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options(o =>
        {
            o.FriendRequestPolicy = FriendRequestPolicy.AcceptListed;
            o.AcceptedFriends.Add("erin@lab.test");
        }));
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);
        string sent = await replies.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        // erin is listed: approve and ask back; frank is not: refuse; dave was asked by us: approve only.
        Assert.Contains("<presence to=\"erin@lab.test\" type=\"subscribed\" />", sent, StringComparison.Ordinal);
        Assert.Contains("<presence to=\"erin@lab.test\" type=\"subscribe\" />", sent, StringComparison.Ordinal);
        Assert.Contains("<presence to=\"frank@lab.test\" type=\"unsubscribed\" />", sent, StringComparison.Ordinal);
        Assert.Contains("<presence to=\"dave@lab.test\" type=\"subscribed\" />", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("<presence to=\"dave@lab.test\" type=\"subscribe\" />", sent, StringComparison.Ordinal);
        Assert.Empty(probe.FriendRequests);
    }
}
