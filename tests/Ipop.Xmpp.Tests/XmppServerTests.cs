using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// XmppSignaling against a real XMPP server (one subclass per server): TLS, SCRAM, roster, presence,
/// messages, rooms. The same scenarios must pass on every RFC 6120/6121 + XEP-0045 server.
/// </summary>
public abstract class XmppServerTests(XmppServerFixture server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected async Task<(XmppSignaling Node, SignalingProbe Probe)> ConnectAsync(string jid, Action<XmppSignalingOptions>? configure = null, ILogger<XmppSignaling>? logger = null)
    {
        var node = new XmppSignaling(server.Options(jid, configure), logger);
        var probe = new SignalingProbe(node);
        await node.ConnectAsync(Ct);
        return (node, probe);
    }

    [Fact]
    public async Task Two_accounts_befriend_through_subscription_requests_and_see_each_other_online()
    {
        string[] users = await server.RegisterAsync("friend", 2);
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
        Assert.Equal(["Ipop"], a.RosterGroupsOf(users[1]));
        Assert.Equal([], b.RosterGroupsOf(users[0]));
        OverlayPeer seen = Assert.Single(a.Peers);
        Assert.Equal(users[1], seen.User);
        Assert.Empty(seen.Groups);
    }

    private async Task<(XmppSignaling A, SignalingProbe Pa, XmppSignaling B, SignalingProbe Pb)> FriendsAsync(string prefix)
    {
        string[] users = await server.RegisterAsync(prefix, 2);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1], o =>
        {
            o.FriendRequestPolicy = FriendRequestPolicy.AcceptListed;
            o.AcceptedFriends.Add(users[0]);
        });
        await a.RequestFriendshipAsync(users[1], Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend) && pb.SeesOnline(a.LocalId, PeerRelationship.Friend), "A and B are online friends");
        return (a, pa, b, pb);
    }

    [Fact]
    public async Task Ipop_message_goes_from_A_to_B_and_comes_back_answered()
    {
        (XmppSignaling a, SignalingProbe pa, XmppSignaling b, SignalingProbe pb) = await FriendsAsync("msg");
        await using var _ = a;
        await using var __ = b;
        b.MessageReceived += (_, e) =>
        {
            if (e.Message.Kind == "link-offer")
            {
                _ = b.SendAsync(e.From, new OverlayMessage("link-answer", "answer to " + e.Message.Body), CancellationToken.None);
            }
        };

        string body = "{\"key\":\"<&'\\\">\",\"n\":1}" + new string('x', 20_000);
        await a.SendAsync(b.LocalId, new OverlayMessage("link-offer", body), Ct);

        await SignalingProbe.WaitUntilAsync(() => !pa.Messages.IsEmpty, "A gets the answer");
        OverlayMessageEventArgs answer = Assert.Single(pa.Messages);
        Assert.Equal(b.LocalId, answer.From);
        Assert.Equal("link-answer", answer.Message.Kind);
        Assert.Equal("answer to " + body, answer.Message.Body);
        OverlayMessageEventArgs offer = Assert.Single(pb.Messages);
        Assert.Equal(a.LocalId, offer.From);
        Assert.Equal(body, offer.Message.Body);
    }

    [Fact]
    public async Task Message_from_a_stranger_is_dropped_and_counted()
    {
        string[] users = await server.RegisterAsync("stranger", 2);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1]);
        await using var __ = b;

        await a.SendAsync(b.LocalId, new OverlayMessage("link-offer", "hello"), Ct);
        await SignalingProbe.WaitUntilAsync(() => b.DroppedMessages == 1, "B drops the message");
        Assert.Empty(pb.Messages);
    }

    [Fact]
    public async Task Friend_request_to_an_offline_user_is_delivered_when_it_connects()
    {
        // RFC 6121 §3.1.3: the server keeps an inbound subscription request for an offline contact
        // and delivers it when the contact next has an available resource. ejabberd does that only
        // for sessions with non-negative priority, so this node (an account of its own) uses 0;
        // EjabberdTests shows the default -1 there.
        string[] users = await server.RegisterAsync("later", 2);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        await a.RequestFriendshipAsync(users[1], Ct);
        await Task.Delay(200, Ct);

        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1], o => o.PresencePriority = 0);
        await using var __ = b;
        await SignalingProbe.WaitUntilAsync(() => pb.FriendRequests.Contains(users[0]), "B is asked when it connects");
        await b.RespondToFriendRequestAsync(users[0], accept: true, Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend) && pb.SeesOnline(a.LocalId, PeerRelationship.Friend), "A and B become online friends");
    }

    [Fact]
    public async Task Policy_AcceptNone_refuses_a_friend_request()
    {
        string[] users = await server.RegisterAsync("refuse", 2);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1], o => o.FriendRequestPolicy = FriendRequestPolicy.AcceptNone);
        await using var __ = b;

        await a.RequestFriendshipAsync(users[1], Ct);
        await Task.Delay(500, Ct);
        Assert.Empty(pb.FriendRequests);
        Assert.Empty(a.Peers);
        Assert.Empty(b.Peers);
    }

    [Fact]
    public async Task Removing_a_friend_ends_the_friendship_on_both_sides()
    {
        (XmppSignaling a, SignalingProbe pa, XmppSignaling b, SignalingProbe pb) = await FriendsAsync("unfriend");
        await using var _ = a;
        await using var __ = b;

        await a.RemoveFriendAsync(b.LocalUser, Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId) is { Relationship: PeerRelationship.None } && pb.LastSeen(a.LocalId) is { Relationship: PeerRelationship.None }, "both sides see the friendship gone");
    }

    [Fact]
    public async Task Three_accounts_in_a_room_see_each_others_real_jids_and_a_leave()
    {
        string[] users = await server.RegisterAsync("muc", 3);
        string room = "lab" + Guid.NewGuid().ToString("N")[..8];
        var nodes = new List<(XmppSignaling Node, SignalingProbe Probe)>();
        try
        {
            foreach (string user in users)
            {
                nodes.Add(await ConnectAsync(user));
            }

            await server.CreateGroupAsync(room, users);
            await nodes[0].Node.JoinGroupAsync(room, Ct);
            await nodes[1].Node.JoinGroupAsync(room, Ct);
            await nodes[2].Node.JoinGroupAsync(room, Ct);
            string roomJid = $"{room}@{server.MucDomain}";

            foreach ((XmppSignaling node, SignalingProbe probe) in nodes)
            {
                foreach ((XmppSignaling other, _) in nodes.Where(n => n.Node != node))
                {
                    await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(other.LocalId, PeerRelationship.GroupMember), $"{node.LocalUser} sees {other.LocalId} in the room");
                    OverlayPeer peer = probe.LastSeen(other.LocalId)!;
                    Assert.Equal(other.LocalUser, peer.User);
                    Assert.Equal([roomJid], peer.Groups);
                }
            }

            // Group members may message each other without being friends.
            await nodes[0].Node.SendAsync(nodes[2].Node.LocalId, new OverlayMessage("link-offer", "via room"), Ct);
            await SignalingProbe.WaitUntilAsync(() => !nodes[2].Probe.Messages.IsEmpty, "member 3 gets a message from member 1");

            await nodes[2].Node.LeaveGroupAsync(roomJid, Ct);
            foreach ((XmppSignaling node, SignalingProbe probe) in nodes.Take(2))
            {
                await SignalingProbe.WaitUntilAsync(() => probe.LastSeen(nodes[2].Node.LocalId) is { Presence: PeerPresence.Offline, Relationship: PeerRelationship.None }, $"{node.LocalUser} is told that member 3 left");
            }
        }
        finally
        {
            foreach ((XmppSignaling node, _) in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Wrong_password_fails_with_an_authentication_error()
    {
        string[] users = await server.RegisterAsync("badpw", 1);
        await using var node = new XmppSignaling(server.Options(users[0], o => o.Password = "wrong"));
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Authentication, ex.Kind);
        Assert.Contains("not-authorized", ex.Message, StringComparison.Ordinal);
        Assert.False(node.IsConnected);
    }

    [Fact]
    public async Task Unknown_host_fails_with_a_network_error()
    {
        await using var node = new XmppSignaling(server.Options("nobody@lab.test", o => o.Server = "no-such-host.invalid"));
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Network, ex.Kind);
        Assert.Contains("no-such-host.invalid", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_certificate_from_an_untrusted_ca_is_refused()
    {
        string[] users = await server.RegisterAsync("badca", 1);
        string otherCa = Path.Combine(server.Directory, "other-ca.pem");
        using (var key = System.Security.Cryptography.ECDsa.Create())
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Other CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(otherCa, ca.ExportCertificatePem(), Ct);
        }

        await using var node = new XmppSignaling(server.Options(users[0], o => o.TrustedCaFile = otherCa));
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => node.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Tls, ex.Kind);
        Assert.Contains("TrustedCaFile", ex.Message, StringComparison.Ordinal);

        await using var system = new XmppSignaling(server.Options(users[0], o => o.TrustedCaFile = null));
        XmppSignalingException ex2 = await Assert.ThrowsAsync<XmppSignalingException>(() => system.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Tls, ex2.Kind);
    }

    [Fact]
    public async Task Pinned_certificate_fingerprint_is_accepted_and_a_wrong_pin_is_refused()
    {
        string[] users = await server.RegisterAsync("pin", 1);
        await using (var node = new XmppSignaling(server.Options(users[0], o => { o.TrustedCaFile = null; o.PinnedCertificateSha256 = server.CertificateSha256; })))
        {
            await node.ConnectAsync(Ct);
            Assert.True(node.IsConnected);
        }

        await using var wrong = new XmppSignaling(server.Options(users[0], o => { o.TrustedCaFile = null; o.PinnedCertificateSha256 = new string('A', 64); }));
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => wrong.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Tls, ex.Kind);
        Assert.Contains("pinned", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Owner_creates_a_members_only_room_and_only_granted_members_get_in()
    {
        string[] users = await server.RegisterAsync("owner", 3);
        string room = "closed" + Guid.NewGuid().ToString("N")[..8];
        (XmppSignaling owner, SignalingProbe po) = await ConnectAsync(users[0]);
        await using var _ = owner;
        (XmppSignaling member, SignalingProbe pm) = await ConnectAsync(users[1]);
        await using var __ = member;
        var outsiderLog = new LogCapture();
        (XmppSignaling outsider, SignalingProbe px) = await ConnectAsync(users[2], logger: outsiderLog);
        await using var ___ = outsider;

        await owner.CreateGroupAsync(room, membersOnly: true, Ct);
        Assert.True(await owner.AddGroupMemberAsync(room, users[1], Ct));
        Assert.False(await owner.AddGroupMemberAsync(room, users[1], Ct));

        await member.JoinGroupAsync(room, Ct);
        await SignalingProbe.WaitUntilAsync(() => po.SeesOnline(member.LocalId, PeerRelationship.GroupMember) && pm.SeesOnline(owner.LocalId, PeerRelationship.GroupMember), "owner and member see each other");
        Assert.Equal([new GroupMember(users[0], GroupAffiliation.Owner), new GroupMember(users[1], GroupAffiliation.Member)], await owner.GetGroupMembersAsync(room, Ct));

        // The outsider is refused by the room: it says why and keeps asking (the host must not exit); nobody sees it.
        await outsider.JoinGroupAsync(room, Ct);
        await SignalingProbe.WaitUntilAsync(() => outsiderLog.Has($"Not a member of {room}@{server.MucDomain} yet"), "the outsider logs that it is not a member yet");
        await SignalingProbe.WaitUntilAsync(() => outsiderLog.Lines.Count(l => l.Contains("Not a member of", StringComparison.Ordinal)) >= 2, "the outsider asks again");
        Assert.Null(po.LastSeen(outsider.LocalId));
        Assert.Null(pm.LastSeen(outsider.LocalId));
        Assert.Empty(px.PeerEvents);

        // Non-owners cannot change membership, and are told who can.
        XmppSignalingException denied = await Assert.ThrowsAsync<XmppSignalingException>(() => member.AddGroupMemberAsync(room, users[2], Ct));
        Assert.Equal(XmppErrorKind.Request, denied.Kind);
        Assert.Contains("only its owner or an admin manages the members", denied.Message, StringComparison.Ordinal);
        ArgumentException self = await Assert.ThrowsAsync<ArgumentException>(() => owner.RemoveGroupMemberAsync(room, users[0], Ct));
        Assert.Contains("does not remove itself", self.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Members_starting_at_once_before_the_room_exists_never_create_it_and_all_get_in_once_the_owner_adds_them()
    {
        string[] users = await server.RegisterAsync("race", 4);
        string room = "race" + Guid.NewGuid().ToString("N")[..8];
        string roomJid = $"{room}@{server.MucDomain}";
        var nodes = new List<(XmppSignaling Node, SignalingProbe Probe, LogCapture Log)>();
        try
        {
            foreach (string user in users)
            {
                var log = new LogCapture();
                (XmppSignaling node, SignalingProbe probe) = await ConnectAsync(user, logger: log);
                nodes.Add((node, probe, log));
            }

            await Task.WhenAll(nodes.Select(n => n.Node.JoinGroupAsync(room, Ct)));
            foreach ((_, _, LogCapture log) in nodes)
            {
                await SignalingProbe.WaitUntilAsync(() => log.Has($"Room {roomJid} does not exist yet"), "each member logs that the room does not exist yet");
            }

            // Nobody created it while waiting: the owner still finds no room.
            string owner = (await server.RegisterAsync("raceowner", 1))[0];
            (XmppSignaling ownerNode, _) = await ConnectAsync(owner);
            await using var ownerScope = ownerNode;
            XmppSignalingException missing = await Assert.ThrowsAsync<XmppSignalingException>(() => ownerNode.GetGroupMembersAsync(room, Ct));
            Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);

            foreach (string user in users)
            {
                Assert.True(await ownerNode.AddGroupMemberAsync(room, user, Ct));
            }

            foreach ((XmppSignaling node, SignalingProbe probe, _) in nodes)
            {
                foreach ((XmppSignaling other, _, _) in nodes.Where(n => n.Node != node))
                {
                    await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(other.LocalId, PeerRelationship.GroupMember), $"{node.LocalUser} sees {other.LocalUser} in the group", TimeSpan.FromSeconds(20));
                }
            }

            IReadOnlyList<GroupMember> members = await ownerNode.GetGroupMembersAsync(room, Ct);
            Assert.Equal(new GroupMember(owner, GroupAffiliation.Owner), Assert.Single(members, m => m.Affiliation != GroupAffiliation.Member));
            Assert.Equal(users.Order(StringComparer.Ordinal), members.Where(m => m.Affiliation == GroupAffiliation.Member).Select(m => m.User));
        }
        finally
        {
            foreach ((XmppSignaling node, _, _) in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Removing_a_member_drops_it_from_every_node_within_a_second_and_adding_it_again_brings_it_back()
    {
        string[] users = await server.RegisterAsync("revoke", 3);
        string room = "revoke" + Guid.NewGuid().ToString("N")[..8];
        var removedLog = new LogCapture();
        (XmppSignaling owner, SignalingProbe po) = await ConnectAsync(users[0]);
        await using var _ = owner;
        (XmppSignaling member, SignalingProbe pm) = await ConnectAsync(users[1]);
        await using var __ = member;
        (XmppSignaling removed, SignalingProbe pr) = await ConnectAsync(users[2], logger: removedLog);
        await using var ___ = removed;
        Assert.True(await owner.AddGroupMemberAsync(room, users[1], Ct));
        Assert.True(await owner.AddGroupMemberAsync(room, users[2], Ct));
        foreach (XmppSignaling node in (XmppSignaling[])[owner, member, removed])
        {
            await node.JoinGroupAsync(room, Ct);
        }

        await SignalingProbe.WaitUntilAsync(() => po.SeesOnline(removed.LocalId, PeerRelationship.GroupMember) && pm.SeesOnline(removed.LocalId, PeerRelationship.GroupMember) && pr.SeesOnline(member.LocalId, PeerRelationship.GroupMember), "all three are in the group");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await owner.RemoveGroupMemberAsync(room, users[2], Ct));
        await SignalingProbe.WaitUntilAsync(() => !po.SeesOnline(removed.LocalId, PeerRelationship.GroupMember) && !pm.SeesOnline(removed.LocalId, PeerRelationship.GroupMember) && !pr.SeesOnline(member.LocalId, PeerRelationship.GroupMember), "every node drops the removed member", TimeSpan.FromSeconds(5));
        TimeSpan took = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"membership revoked to every node seeing it: {took.TotalMilliseconds:F0} ms");
        Assert.True(took < TimeSpan.FromSeconds(1), $"took {took.TotalMilliseconds:F0} ms");
        Assert.Equal(PeerRelationship.None, pm.LastSeen(removed.LocalId)!.Relationship);
        await SignalingProbe.WaitUntilAsync(() => removedLog.Has("our membership was revoked (321)"), "the removed node logs why");
        // prosody refuses its next join (registration-required); ejabberd lets it back in as a participant with
        // affiliation none. Either way it is told it is not on the member list, and nobody counts it as a member.
        await SignalingProbe.WaitUntilAsync(() => removedLog.Has($"{users[2]} is not on its member list"), "the removed node is told it is no member; it logged:\n" + string.Join("\n", removedLog.Lines));
        await Task.Delay(300, Ct);
        Assert.False(pm.SeesOnline(removed.LocalId, PeerRelationship.GroupMember));
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join('\n', removedLog.Lines));
        Assert.False(await owner.RemoveGroupMemberAsync(room, users[2], Ct));
        Assert.DoesNotContain(removedLog.Lines, l => l.Contains("semi-anonymous", StringComparison.Ordinal)); // ejabberd's room presence is no occupant

        // Added again, it gets back in by itself (its keeper asks again with backoff).
        Assert.True(await owner.AddGroupMemberAsync(room, users[2], Ct));
        await SignalingProbe.WaitUntilAsync(() => pm.SeesOnline(removed.LocalId, PeerRelationship.GroupMember), "the member is back", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_open_room_from_before_is_made_members_only_by_its_owner_and_outsiders_lose_it()
    {
        string[] users = await server.RegisterAsync("migrate", 3);
        string room = "open" + Guid.NewGuid().ToString("N")[..8];
        string roomJid = $"{room}@{server.MucDomain}";
        await using (XmppSignaling before = (await ConnectAsync(users[0])).Node)
        {
            await before.CreateGroupAsync(room, membersOnly: false, Ct); // as GroupVPN made rooms before
        }

        var strangerLog = new LogCapture();
        (XmppSignaling stranger, SignalingProbe ps) = await ConnectAsync(users[2], logger: strangerLog);
        await using var _ = stranger;
        await stranger.JoinGroupAsync(room, Ct);
        await SignalingProbe.WaitUntilAsync(() => strangerLog.Has($"In room {roomJid}, but {users[2]} is not on its member list"), "the stranger is in the open room but told it is no member");

        var ownerLog = new LogCapture();
        (XmppSignaling owner, SignalingProbe po) = await ConnectAsync(users[0], logger: ownerLog);
        await using var __ = owner;
        await owner.JoinGroupAsync(room, Ct);
        await SignalingProbe.WaitUntilAsync(() => ownerLog.Has($"Converted room {roomJid}"), "the owner converts the room");
        Assert.Contains(ownerLog.Lines, l => l.Contains($"Refused ", StringComparison.Ordinal) && l.Contains(users[2], StringComparison.Ordinal));
        await SignalingProbe.WaitUntilAsync(() => strangerLog.Has("we are not on its member list (322)"), "the stranger is removed as a non-member");
        Assert.DoesNotContain(po.PeerEvents, e => e.Current.Id == stranger.LocalId && e.Current.Relationship.HasFlag(PeerRelationship.GroupMember));

        (XmppSignaling member, SignalingProbe pm) = await ConnectAsync(users[1]);
        await using var ___ = member;
        Assert.True(await owner.AddGroupMemberAsync(room, users[1], Ct));
        await member.JoinGroupAsync(room, Ct);
        await SignalingProbe.WaitUntilAsync(() => po.SeesOnline(member.LocalId, PeerRelationship.GroupMember) && pm.SeesOnline(owner.LocalId, PeerRelationship.GroupMember), "owner and the added member see each other");
        Assert.Null(pm.LastSeen(stranger.LocalId));
    }

    [Fact]
    public async Task Concurrent_joins_of_one_room_share_the_join_and_both_complete()
    {
        string[] users = await server.RegisterAsync("twice", 2);
        string room = "twice" + Guid.NewGuid().ToString("N")[..8];
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1]);
        await using var __ = b;
        await server.CreateGroupAsync(room, users);

        await Task.WhenAll(a.JoinGroupAsync(room, Ct), a.JoinGroupAsync(room, Ct)).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await b.JoinGroupAsync(room, Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.GroupMember) && pb.SeesOnline(a.LocalId, PeerRelationship.GroupMember), "both see each other in the room");
        Assert.Single(pb.PeerEvents, e => e.Current.Id == a.LocalId);
    }

    [Fact]
    public async Task A_members_announcement_reaches_the_other_members_through_the_room_a_change_follows_and_a_reconnect_keeps_it()
    {
        // Members of one group, not friends: the room's presence fan-out is the only way A learns B's announcement.
        string[] users = await server.RegisterAsync("announce", 2);
        string room = "announce" + Guid.NewGuid().ToString("N")[..8];
        await server.CreateGroupAsync(room, users);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        (XmppSignaling b, SignalingProbe pb) = await ConnectAsync(users[1], o => o.KeepaliveInterval = TimeSpan.FromSeconds(1));
        await using var __ = b;
        await b.SetAnnouncementAsync("198.19.1.2 fd00::2", Ct);
        await a.JoinGroupAsync(room, Ct);
        await b.JoinGroupAsync(room, Ct);
        await a.SetAnnouncementAsync("198.19.1.1", Ct);

        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId) is { Presence: PeerPresence.Online, Announcement: "198.19.1.2 fd00::2" }, "A sees B's announcement (sent with its join)");
        await SignalingProbe.WaitUntilAsync(() => pb.LastSeen(a.LocalId) is { Presence: PeerPresence.Online, Announcement: "198.19.1.1" }, "B sees A's announcement (an update after A's join)");
        Assert.Equal(PeerRelationship.GroupMember, pa.LastSeen(b.LocalId)!.Relationship);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await b.SetAnnouncementAsync("198.19.1.2 changed", Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId)?.Announcement == "198.19.1.2 changed", "A sees B's change");
        TestContext.Current.TestOutputHelper?.WriteLine($"announcement change seen through the room: {clock.ElapsedMilliseconds} ms");
        OverlayPeerEventArgs change = pa.PeerEvents.Last(e => e.Current.Id == b.LocalId);
        Assert.Equal("198.19.1.2 fd00::2", change.Previous?.Announcement);
        Assert.Equal(PeerPresence.Online, change.Current.Presence);

        // B's session is cut (a network change it is told about, with its server connection reset): B reconnects on its
        // own, rejoins with the announcement it holds then, which changed while it was away.
        await b.SetAnnouncementAsync("198.19.1.2 before reconnect", Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId)?.Announcement == "198.19.1.2 before reconnect", "A sees B's second change");
        await b.DropSessionForTestsAsync();
        await SignalingProbe.WaitUntilAsync(() => !b.IsConnected, "B notices its session is gone");
        await b.SetAnnouncementAsync("198.19.1.2 after reconnect", Ct); // kept while disconnected, published by the next session
        await SignalingProbe.WaitUntilAsync(() => b.IsConnected, "B reconnects", TimeSpan.FromSeconds(15));
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId) is { Presence: PeerPresence.Online, Announcement: "198.19.1.2 after reconnect" }, "A sees the announcement B holds after its reconnect", TimeSpan.FromSeconds(15));
        await SignalingProbe.WaitUntilAsync(() => pb.LastSeen(a.LocalId) is { Presence: PeerPresence.Online, Announcement: "198.19.1.1" }, "B sees A's announcement again after its rejoin", TimeSpan.FromSeconds(15));
        Assert.Equal(PeerRelationship.GroupMember, pa.LastSeen(b.LocalId)!.Relationship);
    }
}
