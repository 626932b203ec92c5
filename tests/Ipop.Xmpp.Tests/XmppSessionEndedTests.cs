using System.Text.RegularExpressions;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// <see cref="OverlayPeerEventArgs.SessionEnded"/> from a scripted room: a member's plain leave (its session ended:
/// a reset connection, a logout) says so, and a controller may keep its link for a moment; a kick (307), a ban (301)
/// or a revoked membership (321) never does, so links to a removed member still end at once.
/// </summary>
public sealed partial class XmppSessionEndedTests
{
    private const string Marker = "<ipop xmlns='urn:ipop:signaling:1' ver='1'/>";
    private const string Room = "lab@conference.lab.test";

    private static string Occupant(string nick, string jid, string affiliation, string type = "", string codes = "")
        => $"<presence from='{Room}/{nick}'{(type.Length > 0 ? $" type='{type}'" : string.Empty)}>{(type.Length > 0 ? string.Empty : Marker)}<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='{affiliation}' role='{(type.Length > 0 ? "none" : "participant")}' jid='{jid}'/>{codes}</x></presence>";

    [Fact]
    public async Task A_plain_leave_is_a_session_end_and_kick_ban_and_revocation_are_not()
    {
        var script = new TaskCompletionSource<FakeXmppServer.FakeSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var done = new SemaphoreSlim(0);
        string[] members = ["bob.1", "carol.2", "dave.3", "erin.4"];
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            string disco = await s.WaitForAsync("</iq>");
            await s.SendAsync($"<iq type='result' id='{FakeXmppServer.FakeSession.IqId(disco)}' from='{Room}'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='conference' type='text'/><feature var='muc_membersonly'/><feature var='muc_persistent'/><feature var='muc_nonanonymous'/></query></iq>");
            string join = await s.WaitForAsync("</presence>");
            string nick = JoinTo().Match(join).Groups[1].Value;
            foreach (string m in members)
            {
                await s.SendAsync(Occupant(m, $"{m.Split('.')[0]}@lab.test/ipop-{m.Split('.')[1]}", "member"));
            }

            await s.SendAsync(Occupant(nick, "user@lab.test/x", "member", codes: "<status code='110'/><status code='100'/>"));
            script.TrySetResult(s);
            await done.WaitAsync(TimeSpan.FromSeconds(20));
        });
        var log = new LogCapture();
        await using var node = new XmppSignaling(server.Options(o => o.Groups.Add(Room)), log);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);
        FakeXmppServer.FakeSession session = await script.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        PeerId[] ids = [.. members.Select(m => new PeerId($"{m.Split('.')[0]}@lab.test/ipop-{m.Split('.')[1]}"))];
        await SignalingProbe.WaitUntilAsync(() => ids.All(id => probe.SeesOnline(id, PeerRelationship.GroupMember)), "all four are members");

        await session.SendAsync(Occupant("bob.1", "bob@lab.test/ipop-1", "member", type: "unavailable"));
        await session.SendAsync(Occupant("carol.2", "carol@lab.test/ipop-2", "member", type: "unavailable", codes: "<status code='307'/>"));
        await session.SendAsync(Occupant("dave.3", "dave@lab.test/ipop-3", "outcast", type: "unavailable", codes: "<status code='301'/>"));
        await session.SendAsync(Occupant("erin.4", "erin@lab.test/ipop-4", "none", type: "unavailable", codes: "<status code='321'/>"));
        await SignalingProbe.WaitUntilAsync(() => ids.All(id => probe.LastSeen(id) is { Presence: PeerPresence.Offline }), "all four left");

        OverlayPeerEventArgs Left(PeerId id) => probe.PeerEvents.Last(e => e.Current.Id == id);
        Assert.True(Left(ids[0]).SessionEnded, "a plain leave is the end of the member's session");
        Assert.False(Left(ids[1]).SessionEnded, "a kick (307) is a removal");
        Assert.False(Left(ids[2]).SessionEnded, "a ban (301) is a removal");
        Assert.False(Left(ids[3]).SessionEnded, "a revoked membership (321) is a removal");
        done.Release();
    }

    [GeneratedRegex("<presence to=\"[^/\"]+/([^\"]+)\"")]
    private static partial Regex JoinTo();
}
