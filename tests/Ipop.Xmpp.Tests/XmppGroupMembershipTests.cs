using System.Text.RegularExpressions;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// Group membership from a scripted room: only occupants whose presence carries member affiliation or higher are
/// group members, and every new presence (an affiliation change, a 321 removal) re-decides at once.
/// </summary>
public sealed partial class XmppGroupMembershipTests
{
    private const string Marker = "<ipop xmlns='urn:ipop:signaling:1' ver='1'/>";
    private const string Room = "lab@conference.lab.test";

    private static string Occupant(string nick, string jid, string affiliation, string type = "", string codes = "")
        => $"<presence from='{Room}/{nick}'{(type.Length > 0 ? $" type='{type}'" : string.Empty)}>{(type.Length > 0 ? string.Empty : Marker)}<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='{affiliation}' role='{(type.Length > 0 ? "none" : "participant")}' jid='{jid}'/>{codes}</x></presence>";

    [Fact]
    public async Task Only_occupants_with_membership_are_group_members_and_changes_apply_at_once()
    {
        var script = new TaskCompletionSource<FakeXmppServer.FakeSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var done = new SemaphoreSlim(0);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();

            // XEP-0045 §6.4 first: the node asks whether the room exists and joins only then.
            string disco = await s.WaitForAsync("</iq>");
            Assert.Contains("disco#info", disco, StringComparison.Ordinal);
            await s.SendAsync($"<iq type='result' id='{FakeXmppServer.FakeSession.IqId(disco)}' from='{Room}'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='conference' type='text'/><feature var='muc_membersonly'/><feature var='muc_persistent'/><feature var='muc_nonanonymous'/></query></iq>");
            string join = await s.WaitForAsync("</presence>");
            string nick = JoinTo().Match(join).Groups[1].Value;
            await s.SendAsync(Occupant("bob.1", "bob@lab.test/ipop-1", "member"));
            await s.SendAsync(Occupant("carol.2", "carol@lab.test/ipop-2", "admin"));
            await s.SendAsync(Occupant("mallory.3", "mallory@lab.test/ipop-3", "none"));
            await s.SendAsync(Occupant(nick, "user@lab.test/x", "member", codes: "<status code='110'/><status code='100'/>"));
            script.TrySetResult(s);
            await done.WaitAsync(TimeSpan.FromSeconds(20));
        });
        var log = new LogCapture();
        await using var node = new XmppSignaling(server.Options(o => o.Groups.Add(Room)), log);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);
        FakeXmppServer.FakeSession session = await script.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        var bob = new PeerId("bob@lab.test/ipop-1");
        var carol = new PeerId("carol@lab.test/ipop-2");
        var mallory = new PeerId("mallory@lab.test/ipop-3");
        await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(bob, PeerRelationship.GroupMember) && probe.SeesOnline(carol, PeerRelationship.GroupMember), "member and admin are group members");
        Assert.Equal([Room], probe.LastSeen(bob)!.Groups);
        // mallory's presence comes after carol's: wait for its refusal before checking that nobody counted it.
        await SignalingProbe.WaitUntilAsync(() => log.Lines.Any(l => l.Contains("Refused mallory.3 (mallory@lab.test/ipop-3)", StringComparison.Ordinal)), "mallory is refused");
        Assert.Null(probe.LastSeen(mallory));

        // The owner grants mallory membership and revokes bob's (affiliation none, then the 321 removal): each
        // presence re-decides at once.
        await session.SendAsync(Occupant("mallory.3", "mallory@lab.test/ipop-3", "member"));
        await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(mallory, PeerRelationship.GroupMember), "mallory becomes a member");
        await session.SendAsync(Occupant("bob.1", "bob@lab.test/ipop-1", "none"));
        await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(bob) is { Relationship: PeerRelationship.None }, "bob is no member the moment its affiliation is none");
        await session.SendAsync(Occupant("carol.2", "carol@lab.test/ipop-2", "none", type: "unavailable", codes: "<status code='321'/>"));
        await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(carol) is { Presence: PeerPresence.Offline, Relationship: PeerRelationship.None }, "carol is gone on the 321 removal");
        Assert.True(probe.SeesOnline(mallory, PeerRelationship.GroupMember));
        done.Release();
    }

    [Fact]
    public async Task A_missing_room_is_asked_for_again_and_never_joined_or_created()
    {
        int asked = 0;
        using var done = new SemaphoreSlim(0);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            for (int i = 0; i < 3; i++)
            {
                string disco = await s.WaitForAsync("</iq>");
                Assert.Contains("disco#info", disco, StringComparison.Ordinal);
                Interlocked.Increment(ref asked);
                await s.SendAsync($"<iq type='error' id='{FakeXmppServer.FakeSession.IqId(disco)}' from='{Room}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
            }

            await done.WaitAsync(TimeSpan.FromSeconds(20));
            received.TrySetResult(s.Received);
        });
        var log = new LogCapture();
        await using var node = new XmppSignaling(server.Options(o => { o.ReconnectMinDelay = TimeSpan.FromMilliseconds(50); o.ReconnectMaxDelay = TimeSpan.FromMilliseconds(200); }), log);
        await node.ConnectAsync(TestContext.Current.CancellationToken);
        await node.JoinGroupAsync(Room, TestContext.Current.CancellationToken); // returns: the host goes on
        await SignalingProbe.WaitUntilAsync(() => Volatile.Read(ref asked) == 3, "the node asks again");
        Assert.Contains(log.Lines, l => l.StartsWith($"Room {Room} does not exist yet", StringComparison.Ordinal) && l.Contains("asking again in", StringComparison.Ordinal));
        done.Release();
        string sent = await received.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Contains("disco#info", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("<presence to=\"" + Room, sent, StringComparison.Ordinal); // a join would create the room
    }

    [GeneratedRegex("<presence to=\"[^/\"]+/([^\"]+)\"")]
    private static partial Regex JoinTo();
}
