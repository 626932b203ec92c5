using System.Text.RegularExpressions;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// Groups across federated servers, scripted: our account is on lab.test, the room on another domain's MUC service,
/// members from both. Nothing may assume that a room, a member or an IQ reply comes from our own domain.
/// </summary>
public sealed partial class XmppFederationTests
{
    private const string Room = "fed@conference.b.test";
    private const string Marker = "<ipop xmlns='urn:ipop:signaling:1' ver='1'><announcement>198.19.0.3</announcement></ipop>";

    [Fact]
    public async Task A_room_on_another_domain_with_members_of_both_domains_is_one_group_and_its_remote_members_may_message_us()
    {
        var joined = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeXmppServer(async s =>
        {
            await s.NegotiateAsync();
            string disco = await s.WaitForAsync("</iq>");
            Assert.Contains($"to=\"{Room}\"", disco, StringComparison.Ordinal);
            await s.SendAsync($"<iq type='result' id='{FakeXmppServer.FakeSession.IqId(disco)}' from='{Room}'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='conference' type='text'/><feature var='muc_membersonly'/><feature var='muc_persistent'/><feature var='muc_nonanonymous'/></query></iq>");
            string join = await s.WaitForAsync("</presence>");
            string nick = JoinTo().Match(join).Groups[1].Value;
            await s.SendAsync($"<presence from='{Room}/bob.1'>{Marker}<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='bob@b.test/ipop-1'/></x></presence>");
            await s.SendAsync($"<presence from='{Room}/carol.2'>{Marker}<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator' jid='carol@c.test/ipop-2'/></x></presence>");
            await s.SendAsync($"<presence from='{Room}/{nick}'><ipop xmlns='urn:ipop:signaling:1' ver='1'/><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='user@lab.test/x'/><status code='110'/></x></presence>");
            joined.TrySetResult(join);
            await s.SendAsync("<message from='bob@b.test/ipop-1' type='normal'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>from b</ipop></message>");
            await s.ServeAsync();
        });
        await using var node = new XmppSignaling(server.Options(o => o.Groups.Add(Room)));
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(TestContext.Current.CancellationToken);

        var bob = new PeerId("bob@b.test/ipop-1");
        var carol = new PeerId("carol@c.test/ipop-2");
        string join = await joined.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Contains($"to=\"{Room}/user.ipop-", join, StringComparison.Ordinal);
        await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(bob, PeerRelationship.GroupMember) && probe.SeesOnline(carol, PeerRelationship.GroupMember), "members of two other domains are group members");
        Assert.Equal([Room], probe.LastSeen(bob)!.Groups);
        Assert.Equal("bob@b.test", probe.LastSeen(bob)!.User);
        Assert.Equal("198.19.0.3", probe.LastSeen(bob)!.Announcement);
        await SignalingProbe.WaitUntilAsync(() => !probe.Messages.IsEmpty, "bob's link offer");
        Assert.Equal(bob, Assert.Single(probe.Messages).From);
        Assert.Equal(0, node.DroppedMessages);
    }

    [GeneratedRegex("to=\"[^/\"]+/([^\"]+)\"")]
    private static partial Regex JoinTo();
}
