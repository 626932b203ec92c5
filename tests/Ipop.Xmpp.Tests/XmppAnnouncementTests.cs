using System.Text.RegularExpressions;
using Ipop.Xmpp.Stanzas;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// Presence announcements against a scripted server: ours rides in every presence we send (initial, room join, and an
/// update to the server and to each joined room when it changes); a peer's is read from a friend's presence and from a
/// room occupant's, and a bad one is ignored, counted and logged while the peer itself still counts.
/// </summary>
public sealed partial class XmppAnnouncementTests
{
    private const string Room = "lab@conference.lab.test";
    private const string Ns = "urn:ipop:signaling:1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Marked(string inner) => $"<ipop xmlns='{Ns}' ver='1'>{inner}</ipop>";

    private static string Announced(string text) => Marked($"<announcement>{text}</announcement>");

    private static string Occupant(string nick, string jid, string marker)
        => $"<presence from='{Room}/{nick}'>{marker}<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='{jid}'/></x></presence>";

    private static async Task<string> JoinRoomAsync(FakeXmppServer.FakeSession s)
    {
        string disco = await s.WaitForAsync("</iq>");
        await s.SendAsync($"<iq type='result' id='{FakeXmppServer.FakeSession.IqId(disco)}' from='{Room}'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='conference' type='text'/><feature var='muc_membersonly'/><feature var='muc_persistent'/><feature var='muc_nonanonymous'/></query></iq>");
        string join = await s.WaitForAsync("</presence>");
        return join;
    }

    [Fact]
    public async Task A_friends_and_a_members_announcements_are_read_changes_raise_PeerChanged_and_bad_ones_are_ignored_and_counted()
    {
        using var step = new SemaphoreSlim(0);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync(rosterItems: "<item jid='bob@lab.test' subscription='both'/><item jid='dave@lab.test' subscription='to'/>");
            await s.SendAsync($"<presence from='bob@lab.test/ipop-1'>{Announced("198.19.0.2 a&lt;b&amp;c'd\"")}</presence>");
            await s.SendAsync($"<presence from='dave@lab.test/ipop-4'>{Announced("not a friend")}</presence>");
            string join = await JoinRoomAsync(s);
            string nick = JoinTo().Match(join).Groups[1].Value;
            await s.SendAsync(Occupant("carol.3", "carol@lab.test/ipop-3", Announced("198.19.0.3")));
            await s.SendAsync(Occupant(nick, "user@lab.test/x", Marked(string.Empty)).Replace("</x>", "<status code='110'/></x>", StringComparison.Ordinal));

            await step.WaitAsync(TimeSpan.FromSeconds(10));
            await s.SendAsync($"<presence from='bob@lab.test/ipop-1'>{Announced("198.19.0.22")}</presence>");
            await s.SendAsync(Occupant("carol.3", "carol@lab.test/ipop-3", Announced(new string('x', IOverlaySignaling.MaxAnnouncementLength + 1))));
            await step.WaitAsync(TimeSpan.FromSeconds(10));
            await s.SendAsync(Occupant("carol.3", "carol@lab.test/ipop-3", Announced("198.19.0.3")));
            await s.SendAsync(Occupant("carol.3", "carol@lab.test/ipop-3", Marked("<announcement>one</announcement><announcement>two</announcement>")));
            await s.SendAsync(Occupant("carol.3", "carol@lab.test/ipop-3", Announced("caf\u00e9")));
            await s.SendAsync(Occupant("carol.3", "carol@lab.test/ipop-3", Marked("<announcement>x<b/></announcement>")));
            await step.WaitAsync(TimeSpan.FromSeconds(10));
            await s.SendAsync($"<presence from='bob@lab.test/ipop-1'>{Marked(string.Empty)}</presence>");
            await s.SendAsync($"<presence from='bob@lab.test/ipop-1'>{Announced(string.Empty)}</presence>");
            await s.SendAsync("<presence from='bob@lab.test/ipop-1' type='unavailable'/>");
            await s.ServeAsync();
        });
        var log = new LogCapture();
        await using var node = new XmppSignaling(server.Options(o => o.Groups.Add(Room)), log);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(Ct);

        var bob = new PeerId("bob@lab.test/ipop-1");
        var carol = new PeerId("carol@lab.test/ipop-3");
        await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(carol, PeerRelationship.GroupMember) && probe.SeesOnline(bob, PeerRelationship.Friend), "bob (friend) and carol (member) online");
        Assert.Equal("198.19.0.2 a<b&c'd\"", probe.LastSeen(bob)!.Announcement);
        Assert.Equal("198.19.0.3", probe.LastSeen(carol)!.Announcement);
        Assert.DoesNotContain(probe.PeerEvents, e => e.Current.User == "dave@lab.test");
        Assert.Single(probe.PeerEvents, e => e.Current.Id == bob);

        // A changed announcement alone raises PeerChanged; a too long one is ignored (carol has none then) and counted.
        step.Release();
        await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(bob)?.Announcement == "198.19.0.22" && probe.LastSeen(carol)?.Announcement is null, "bob's change and carol's bad one");
        OverlayPeerEventArgs change = probe.PeerEvents.Last(e => e.Current.Id == bob);
        Assert.Equal("198.19.0.2 a<b&c'd\"", change.Previous!.Announcement);
        Assert.Equal((PeerPresence.Online, PeerRelationship.Friend), (change.Current.Presence, change.Current.Relationship));
        Assert.Equal((change.Previous.Presence, change.Previous.Relationship), (change.Current.Presence, change.Current.Relationship));
        Assert.True(probe.SeesOnline(carol, PeerRelationship.GroupMember), "carol still counts");
        Assert.Equal(1, node.SkippedStanzas);
        Assert.Contains(log.Lines, l => l.Contains("carol@lab.test/ipop-3", StringComparison.Ordinal) && l.Contains("at most 512 characters, this one 513", StringComparison.Ordinal));

        // Two announcements, a non-ASCII one, one with markup: each ignored and counted; the valid one before them stands
        // until the first bad one.
        step.Release();
        await SignalingProbe.WaitUntilAsync(() => node.SkippedStanzas == 4, "three more bad announcements counted");
        Assert.Null(node.Peers.Single(p => p.Id == carol).Announcement);
        Assert.Contains(probe.PeerEvents, e => e.Current.Id == carol && e.Current.Announcement == "198.19.0.3" && e.Previous?.Announcement is null);
        Assert.Contains(log.Lines, l => l.Contains("more than one announcement", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("U+00E9", StringComparison.Ordinal));
        Assert.True(probe.SeesOnline(carol, PeerRelationship.GroupMember));

        // Withdrawn (none), then empty (a valid, empty announcement), then offline: the last one is kept.
        int before = probe.PeerEvents.Count(e => e.Current.Id == bob);
        step.Release();
        await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(bob) is { Presence: PeerPresence.Offline }, "bob goes offline");
        Assert.Equal([null, string.Empty, string.Empty], probe.PeerEvents.Where(e => e.Current.Id == bob).Skip(before).Select(e => e.Current.Announcement));
        Assert.Equal(string.Empty, node.Peers.Single(p => p.Id == bob).Announcement);
    }

    [Fact]
    public async Task Our_announcement_rides_in_the_initial_presence_and_the_join_and_a_change_goes_to_the_server_and_the_room()
    {
        var sent = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var joined = new TaskCompletionSource<(string Initial, string Join)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            string initial = s.Received[s.Received.LastIndexOf("<presence", StringComparison.Ordinal)..];
            string join = await JoinRoomAsync(s);
            string nick = JoinTo().Match(join).Groups[1].Value;
            await s.SendAsync(Occupant(nick, "user@lab.test/x", Marked(string.Empty)).Replace("</x>", "<status code='110'/></x>", StringComparison.Ordinal));
            joined.TrySetResult((initial, join));
            string updates = string.Empty;
            for (int i = 0; i < 4; i++)
            {
                updates += await s.WaitForAsync("</presence>", 5);
            }

            sent.TrySetResult(updates);
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options());

        ArgumentException tooLong = await Assert.ThrowsAsync<ArgumentException>(() => node.SetAnnouncementAsync(new string('a', 513), Ct));
        Assert.Contains("at most 512 characters, this one 513", tooLong.Message, StringComparison.Ordinal);
        Assert.Equal("announcement", tooLong.ParamName);
        ArgumentException control = await Assert.ThrowsAsync<ArgumentException>(() => node.SetAnnouncementAsync("a\nb", Ct));
        Assert.Contains("character 1 is U+000A", control.Message, StringComparison.Ordinal);

        await node.SetAnnouncementAsync("first <&>", Ct); // before connecting: kept for the initial presence
        await node.ConnectAsync(Ct);
        await node.JoinGroupAsync(Room, Ct);
        (string initial, string joinPresence) = await joined.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Contains("<announcement>first &lt;&amp;&gt;</announcement>", initial, StringComparison.Ordinal);
        Assert.Contains("<priority>-1</priority>", initial, StringComparison.Ordinal);
        Assert.Contains("<announcement>first &lt;&amp;&gt;</announcement>", joinPresence, StringComparison.Ordinal);
        Assert.Contains("http://jabber.org/protocol/muc", joinPresence, StringComparison.Ordinal);

        await node.SetAnnouncementAsync("second", Ct);
        await node.SetAnnouncementAsync("second", Ct); // unchanged: nothing sent
        await node.SetAnnouncementAsync(null, Ct);
        string updates = await sent.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        string[] presences = [.. updates.Split("</presence>", StringSplitOptions.RemoveEmptyEntries)];
        Assert.Equal(4, presences.Length);

        // Each change: one presence to the server (priority kept, friends see it) and one to our occupant JID (members
        // see it), without the MUC join element (it is a status change, XEP-0045 §7.7, not a second join).
        Assert.Contains("<priority>-1</priority>", presences[0], StringComparison.Ordinal);
        Assert.Contains("<announcement>second</announcement>", presences[0], StringComparison.Ordinal);
        Assert.Contains($"to=\"{Room}/", presences[1], StringComparison.Ordinal);
        Assert.Contains("<announcement>second</announcement>", presences[1], StringComparison.Ordinal);
        Assert.DoesNotContain("protocol/muc", presences[1], StringComparison.Ordinal);
        Assert.Contains("<priority>-1</priority>", presences[2], StringComparison.Ordinal);
        Assert.Contains($"to=\"{Room}/", presences[3], StringComparison.Ordinal);
        Assert.All(presences[2..], p => Assert.Contains(Ns, p, StringComparison.Ordinal));
        Assert.All(presences[2..], p => Assert.DoesNotContain("announcement", p, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='1'/>", null, null)]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='1'><announcement>198.19.0.2/16</announcement></ipop>", "198.19.0.2/16", null)]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='1'><announcement/></ipop>", "", null)]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='1'><announcement>a</announcement><announcement>b</announcement></ipop>", null, "more than one announcement")]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='1'><announcement>a\tb</announcement></ipop>", null, "character 1 is U+0009")]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='1'><announcement><x/></announcement></ipop>", null, "text only")]
    [InlineData("<ipop xmlns='urn:ipop:signaling:1' ver='2'><future/><announcement>ok</announcement></ipop>", "ok", null)]
    [InlineData("<announcement xmlns='urn:ipop:signaling:1'>outside the marker</announcement>", null, null)]
    public void The_reader_takes_one_text_announcement_from_the_marker_and_says_what_is_wrong_otherwise(string marker, string? expected, string? problem)
    {
        var presence = System.Xml.Linq.XElement.Parse($"<presence xmlns='jabber:client'>{marker}</presence>");
        string? found = StanzaReader.ReadAnnouncement(presence, out string? announcement);
        Assert.Equal(expected, announcement);
        if (problem is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(problem, found, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_marker_round_trips_the_longest_announcement_and_nodes_without_announcements_still_see_the_marker()
    {
        string longest = string.Concat(Enumerable.Range(0, IOverlaySignaling.MaxAnnouncementLength).Select(i => (char)(' ' + (i % 95))));
        var presence = System.Xml.Linq.XElement.Parse(StanzaBuilder.Serialize(StanzaBuilder.InitialPresence(-1, longest)));
        Assert.Null(StanzaReader.ReadAnnouncement(presence, out string? back));
        Assert.Equal(longest, back);
        Assert.True(StanzaReader.HasMarker(presence)); // what a node from before announcements checks
        Assert.Equal("1", (string?)presence.Element(System.Xml.Linq.XName.Get("ipop", Ns))!.Attribute("ver"));
    }

    [GeneratedRegex("to=\"[^/\"]+/([^\"]+)\"")]
    private static partial Regex JoinTo();
}
