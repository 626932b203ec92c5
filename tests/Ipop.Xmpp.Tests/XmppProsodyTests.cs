using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Tests;

/// <summary>XmppSignaling against a real prosody: TLS, SCRAM, roster, presence, messages, rooms.</summary>
public sealed class XmppProsodyTests(ProsodyFixture prosody) : IClassFixture<ProsodyFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(XmppSignaling Node, SignalingProbe Probe)> ConnectAsync(string jid, Action<XmppSignalingOptions>? configure = null)
    {
        var node = new XmppSignaling(prosody.Options(jid, configure));
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(Ct);
        return (node, probe);
    }

    [Fact]
    public async Task Two_accounts_befriend_through_subscription_requests_and_see_each_other_online()
    {
        string[] users = await prosody.RegisterAsync("friend", 2);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1]);
        await using var __ = b;
        Assert.True(a.IsConnected);
        Assert.StartsWith(users[0] + "/ipop-", a.LocalId.Value, StringComparison.Ordinal);

        await a.RequestFriendshipAsync(users[1], Ct);
        await SignalingProbe.WaitUntilAsync(() => pb.FriendRequests.Contains(users[0]), "B is asked by A");
        await b.RespondToFriendRequestAsync(users[0], accept: true, Ct);

        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend), "A sees B online as a friend");
        await SignalingProbe.WaitUntilAsync(() => pb.SeesOnline(a.LocalId, PeerRelationship.Friend), "B sees A online as a friend");
        OverlayPeer seen = Assert.Single(a.Peers);
        Assert.Equal(users[1], seen.User);
        Assert.Empty(seen.Groups);
    }
}
