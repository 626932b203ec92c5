using System.Collections.Concurrent;
using Ipop.Controllers;
using Ipop.Xmpp;

namespace Ipop.Testing.Tests.Kit;

/// <summary>
/// The controller kit from the outside (public API only): a policy of a few lines on <see cref="LinkNegotiator"/>,
/// tested on the in-memory signaling network and the fake Tincan with the ready signals, never a sleep.
/// </summary>
public sealed class LinkNegotiatorKitTests : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
    private readonly InMemorySignalingNetwork _signaling = new();
    private readonly FakeTincanNetwork _links = new();
    private readonly List<Node> _nodes = [];

    private CancellationToken Ct => _stop.Token;

    private sealed class AllowList(params string[] users) : ILinkPolicy
    {
        public HashSet<string> Users { get; } = [.. users];

        public ConcurrentQueue<string> Log { get; } = new();

        public bool IsTrusted(OverlayPeer peer) => peer.Presence == PeerPresence.Online && Users.Contains(peer.User);

        public void OnLinkCreated(PeerId peer, ITincanLink link) => Log.Enqueue($"created {peer.Value.Split('@')[0]}");

        public void OnLinkRemoved(PeerId peer, ITincanLink link) => Log.Enqueue($"removed {peer.Value.Split('@')[0]}");

        public Task OnMessageAsync(OverlayPeer? from, OverlayMessage message, CancellationToken cancellationToken)
        {
            Log.Enqueue($"message {message.Kind} {message.Body}");
            return Task.CompletedTask;
        }
    }

    private sealed record Node(InMemorySignaling Signaling, FakeTincan Tincan, AllowList Policy, LinkNegotiator Negotiator, Task Run)
    {
        public PeerId Id => Signaling.LocalId;
    }

    private Node Start(string user, params string[] allowed)
    {
        InMemorySignaling s = _signaling.CreateNode(user, FriendRequestPolicy.AcceptListed, allowed);
        FakeTincan t = _links.CreateNode(s.LocalId);
        var policy = new AllowList(allowed);
        var negotiator = new LinkNegotiator(s, t, policy);
        var node = new Node(s, t, policy, negotiator, negotiator.RunAsync(Ct));
        _nodes.Add(node);
        return node;
    }

    [Fact]
    public async Task Two_nodes_link_through_a_custom_policy_once_ready()
    {
        Node a = Start("a@lab.test", "b@lab.test");
        Node b = Start("b@lab.test", "a@lab.test");
        await Task.WhenAll(a.Negotiator.Ready, b.Negotiator.Ready).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await a.Signaling.RequestFriendshipAsync("b@lab.test", Ct);
        await _links.WaitUntilAsync(() => _links.AreLinked(a.Id, b.Id), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(["created b"], a.Policy.Log);
        Assert.Equal(["created a"], b.Policy.Log);
    }

    [Fact]
    public async Task A_link_that_fails_is_made_again_without_the_policy_doing_anything()
    {
        Node a = Start("a@lab.test", "b@lab.test");
        Node b = Start("b@lab.test", "a@lab.test");
        await Task.WhenAll(a.Negotiator.Ready, b.Negotiator.Ready).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await a.Signaling.RequestFriendshipAsync("b@lab.test", Ct);
        await _links.WaitUntilAsync(() => _links.AreLinked(a.Id, b.Id), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        a.Tincan.SetStatus(b.Id, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable, "cut by the test"));
        await _links.WaitUntilAsync(() => _links.AreLinked(a.Id, b.Id) && a.Tincan.LinksCreated == 2, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        // The failed link object was replaced by a fresh one: the policy saw it go and the new one come.
        Assert.Equal(["created b", "removed b", "created b"], a.Policy.Log);
    }

    [Fact]
    public async Task A_peer_the_policy_stops_trusting_loses_its_link_on_RecheckTrust()
    {
        Node a = Start("a@lab.test", "b@lab.test");
        Node b = Start("b@lab.test", "a@lab.test");
        await Task.WhenAll(a.Negotiator.Ready, b.Negotiator.Ready).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await a.Signaling.RequestFriendshipAsync("b@lab.test", Ct);
        await _links.WaitUntilAsync(() => _links.AreLinked(a.Id, b.Id), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        // The policy's state changes on the loop (Post), then the negotiator asks it again.
        a.Negotiator.Post(_ =>
        {
            a.Policy.Users.Remove("b@lab.test");
            return Task.CompletedTask;
        });
        a.Negotiator.RecheckTrust();
        await _links.WaitUntilAsync(() => !a.Tincan.TryGetLink(b.Id, out _), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await a.Negotiator.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(["created b", "removed b"], a.Policy.Log);
        Assert.False(_links.AreLinked(a.Id, b.Id));
    }

    [Fact]
    public async Task Cancelling_removes_every_link_and_tells_the_policy()
    {
        Node a = Start("a@lab.test", "b@lab.test", "c@lab.test");
        Node b = Start("b@lab.test", "a@lab.test");
        Node c = Start("c@lab.test", "a@lab.test");
        await Task.WhenAll(_nodes.Select(n => n.Negotiator.Ready)).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await a.Signaling.RequestFriendshipAsync("b@lab.test", Ct);
        await a.Signaling.RequestFriendshipAsync("c@lab.test", Ct);
        await _links.WaitUntilAsync(() => _links.AreLinked(a.Id, b.Id) && _links.AreLinked(a.Id, c.Id), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await _stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.Run);
        Assert.Empty(a.Tincan.Links);
        Assert.Contains("removed b", a.Policy.Log);
        Assert.Contains("removed c", a.Policy.Log);
        await Task.WhenAll(b.Run, c.Run).ContinueWith(_ => { }, TaskScheduler.Default); // the token stopped them all
        Assert.All(_links.Nodes, n => Assert.Empty(n.Links));
        Assert.Throws<InvalidOperationException>(() => { _ = a.Negotiator.RunAsync(CancellationToken.None); }); // one run per negotiator, thrown at the call
    }

    [Fact]
    public async Task Messages_of_the_controllers_own_kinds_reach_the_policy_on_the_loop()
    {
        Node a = Start("a@lab.test", "b@lab.test");
        Node b = Start("b@lab.test", "a@lab.test");
        await Task.WhenAll(a.Negotiator.Ready, b.Negotiator.Ready).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await a.Signaling.RequestFriendshipAsync("b@lab.test", Ct);
        await _links.WaitUntilAsync(() => _links.AreLinked(a.Id, b.Id), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await b.Signaling.SendAsync(a.Id, new OverlayMessage("my-status", "away"), Ct);
        await _signaling.WhenDeliveredAsync();
        await a.Negotiator.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Contains("message my-status away", a.Policy.Log);
    }

    [Fact]
    public async Task Ready_is_cancelled_when_the_run_ends_before_it()
    {
        InMemorySignaling s = _signaling.CreateNode("x@lab.test");
        var negotiator = new LinkNegotiator(s, _links.CreateNode(s.LocalId), new AllowList());
        using var stop = new CancellationTokenSource();
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => negotiator.RunAsync(stop.Token));
        Assert.True(negotiator.Ready.IsCanceled);
    }

    [Fact]
    public void Settings_out_of_range_name_the_property()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new NegotiationSettings { RetryMin = TimeSpan.FromSeconds(5), RetryMax = TimeSpan.FromSeconds(1) }.Validate());
        Assert.Contains("NegotiationSettings.RetryMax", e.Message, StringComparison.Ordinal);
        InMemorySignaling s = _signaling.CreateNode("y@lab.test");
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinkNegotiator(s, _links.CreateNode(s.LocalId), new AllowList(), new NegotiationSettings { AnswerTimeout = TimeSpan.Zero }));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Node n in _nodes)
        {
            await n.Run.ContinueWith(_ => { }, TaskScheduler.Default);
            await n.Signaling.DisposeAsync();
        }

        _stop.Dispose();
    }
}
