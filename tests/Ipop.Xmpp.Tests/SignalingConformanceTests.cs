using Ipop.Testing;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// The same scenarios against XMPP (real prosody and real ejabberd) and <see cref="InMemorySignaling"/>:
/// the in-memory network must behave like XMPP for friends, groups, messages and refusals, and both
/// servers alike.
/// </summary>
public sealed class SignalingConformanceTests(ProsodyFixture prosody, EjabberdFixture ejabberd) : IClassFixture<ProsodyFixture>, IClassFixture<EjabberdFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A place to create users and connected nodes.</summary>
    private interface IWorld : IAsyncDisposable
    {
        Task<string[]> UsersAsync(int count);

        Task<(IOverlaySignaling Node, SignalingProbe Probe)> NodeAsync(string user, FriendRequestPolicy policy = FriendRequestPolicy.Ask, params string[] accepted);

        /// <summary>The group id peers report for <paramref name="name"/>.</summary>
        string GroupId(string name);

        /// <summary>Makes <paramref name="users"/> the members of group <paramref name="name"/>, as its owner would.</summary>
        Task PrepareGroupAsync(string name, string[] users);
    }

    private sealed class XmppWorld(XmppServerFixture server) : IWorld
    {
        private readonly List<XmppSignaling> _nodes = [];

        public Task<string[]> UsersAsync(int count) => server.RegisterAsync("conf", count);

        public async Task<(IOverlaySignaling, SignalingProbe)> NodeAsync(string user, FriendRequestPolicy policy, params string[] accepted)
        {
            var node = new XmppSignaling(server.Options(user, o =>
            {
                o.FriendRequestPolicy = policy;
                foreach (string a in accepted)
                {
                    o.AcceptedFriends.Add(a);
                }
            }));
            _nodes.Add(node);
            var probe = new SignalingProbe(node);
            await node.ConnectAsync(Ct);
            return (node, probe);
        }

        public string GroupId(string name) => $"{name}@{server.MucDomain}";

        public Task PrepareGroupAsync(string name, string[] users) => server.CreateGroupAsync(name, users);

        public async ValueTask DisposeAsync()
        {
            foreach (XmppSignaling node in _nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private sealed class MemoryWorld : IWorld
    {
        private readonly InMemorySignalingNetwork _network = new();
        private int _next;

        public Task<string[]> UsersAsync(int count) => Task.FromResult(Enumerable.Range(0, count).Select(_ => $"mem{++_next}@lab.test").ToArray());

        public async Task<(IOverlaySignaling, SignalingProbe)> NodeAsync(string user, FriendRequestPolicy policy, params string[] accepted)
        {
            InMemorySignaling node = _network.CreateNode(user, policy, accepted);
            var probe = new SignalingProbe(node);
            await node.ConnectAsync(Ct);
            return (node, probe);
        }

        public string GroupId(string name) => name;

        public Task PrepareGroupAsync(string name, string[] users) => Task.CompletedTask;

        public async ValueTask DisposeAsync()
        {
            foreach (InMemorySignaling node in _network.Nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private IWorld World(string kind) => kind switch
    {
        "xmpp" => new XmppWorld(prosody),
        "ejabberd" => new XmppWorld(ejabberd),
        _ => new MemoryWorld(),
    };

    [Theory]
    [InlineData("xmpp")]
    [InlineData("ejabberd")]
    [InlineData("memory")]
    public async Task Friends_by_request_see_each_other_and_exchange_messages(string kind)
    {
        await using IWorld world = World(kind);
        string[] users = await world.UsersAsync(2);
        (IOverlaySignaling a, SignalingProbe pa) = await world.NodeAsync(users[0]);
        (IOverlaySignaling b, SignalingProbe pb) = await world.NodeAsync(users[1]);

        await a.RequestFriendshipAsync(users[1], Ct);
        await SignalingProbe.WaitUntilAsync(() => pb.FriendRequests.Contains(users[0]), "B is asked");
        Assert.Empty(pa.FriendRequests);
        await b.RespondToFriendRequestAsync(users[0], true, Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(b.LocalId, PeerRelationship.Friend) && pb.SeesOnline(a.LocalId, PeerRelationship.Friend), "both see a friend online");
        Assert.Equal(PeerRelationship.Friend, pa.LastSeen(b.LocalId)!.Relationship);
        Assert.Null(pa.PeerEvents.First(e => e.Current.Id == b.LocalId).Previous);

        b.MessageReceived += (_, e) => _ = b.SendAsync(e.From, new OverlayMessage("link-answer", e.Message.Body + "!"), CancellationToken.None);
        await a.SendAsync(b.LocalId, new OverlayMessage("link-offer", "hi"), Ct);
        await SignalingProbe.WaitUntilAsync(() => !pa.Messages.IsEmpty, "A gets the answer");
        Assert.Equal(("link-answer", "hi!", b.LocalId), (pa.Messages.Single().Message.Kind, pa.Messages.Single().Message.Body, pa.Messages.Single().From));

        await b.RemoveFriendAsync(users[0], Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.LastSeen(b.LocalId) is { Relationship: PeerRelationship.None, Presence: PeerPresence.Offline }, "A sees the friendship end");
        await a.SendAsync(b.LocalId, new OverlayMessage("link-offer", "after"), Ct);
        await Task.Delay(300, Ct);
        Assert.Single(pb.Messages);
    }

    [Theory]
    [InlineData("xmpp")]
    [InlineData("ejabberd")]
    [InlineData("memory")]
    public async Task Group_members_see_each_other_and_a_leave(string kind)
    {
        await using IWorld world = World(kind);
        string[] users = await world.UsersAsync(3);
        string name = "grp" + Guid.NewGuid().ToString("N")[..6];
        await world.PrepareGroupAsync(name, users);
        var nodes = new List<(IOverlaySignaling Node, SignalingProbe Probe)>();
        foreach (string user in users)
        {
            (IOverlaySignaling node, SignalingProbe probe) = await world.NodeAsync(user);
            await node.JoinGroupAsync(name, Ct);
            nodes.Add((node, probe));
        }

        foreach ((IOverlaySignaling node, SignalingProbe probe) in nodes)
        {
            foreach ((IOverlaySignaling other, _) in nodes.Where(n => n.Node != node))
            {
                await SignalingProbe.WaitUntilAsync(() => probe.SeesOnline(other.LocalId, PeerRelationship.GroupMember), "members see each other");
                Assert.Equal([world.GroupId(name)], probe.LastSeen(other.LocalId)!.Groups);
                Assert.Equal(PeerRelationship.GroupMember, probe.LastSeen(other.LocalId)!.Relationship);
            }
        }

        await nodes[0].Node.SendAsync(nodes[1].Node.LocalId, new OverlayMessage("link-offer", "m"), Ct);
        await SignalingProbe.WaitUntilAsync(() => !nodes[1].Probe.Messages.IsEmpty, "a member's message arrives");

        await nodes[1].Node.LeaveGroupAsync(world.GroupId(name), Ct);
        await SignalingProbe.WaitUntilAsync(() => nodes[0].Probe.LastSeen(nodes[1].Node.LocalId) is { Presence: PeerPresence.Offline, Relationship: PeerRelationship.None }, "member 1 sees member 2 leave");
        await SignalingProbe.WaitUntilAsync(() => nodes[1].Probe.LastSeen(nodes[0].Node.LocalId) is { Presence: PeerPresence.Offline }, "the leaver no longer sees the others");
    }

    [Theory]
    [InlineData("xmpp")]
    [InlineData("ejabberd")]
    [InlineData("memory")]
    public async Task Policies_refuse_or_accept_without_asking_and_strangers_cannot_message(string kind)
    {
        await using IWorld world = World(kind);
        string[] users = await world.UsersAsync(3);
        (IOverlaySignaling a, SignalingProbe pa) = await world.NodeAsync(users[0]);
        (IOverlaySignaling none, SignalingProbe pnone) = await world.NodeAsync(users[1], FriendRequestPolicy.AcceptNone);
        (IOverlaySignaling listed, SignalingProbe plisted) = await world.NodeAsync(users[2], FriendRequestPolicy.AcceptListed, users[0]);

        await a.RequestFriendshipAsync(users[1], Ct);
        await a.RequestFriendshipAsync(users[2], Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(listed.LocalId, PeerRelationship.Friend), "the listed user becomes a friend without being asked");
        Assert.Empty(plisted.FriendRequests);
        Assert.Empty(pnone.FriendRequests);
        Assert.Null(pa.LastSeen(none.LocalId));

        await none.SendAsync(a.LocalId, new OverlayMessage("link-offer", "spam"), Ct);
        await Task.Delay(300, Ct);
        Assert.Empty(pa.Messages);
    }
}
