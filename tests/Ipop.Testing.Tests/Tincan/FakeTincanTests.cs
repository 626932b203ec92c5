using Microsoft.Extensions.Time.Testing;

namespace Ipop.Testing.Tests.Tincan;

public sealed class FakeTincanTests
{
    private static readonly PeerId A = new("a@lab.test/ipop-1");
    private static readonly PeerId B = new("b@lab.test/ipop-2");
    private static readonly PeerId C = new("c@lab.test/ipop-3");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<LinkDescriptor> DescriptorAsync(FakeTincan t) => await t.GetLocalDescriptorAsync(Ct);

    [Fact]
    public async Task A_link_connects_once_both_ends_authorize_each_other_and_not_before()
    {
        var net = new FakeTincanNetwork();
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        var events = new List<LinkStatusChangedEventArgs>();
        a.LinkStatusChanged += (_, e) => events.Add(e);

        ITincanLink ab = a.CreateLink(B, await DescriptorAsync(b));
        Assert.Equal(LinkState.Connecting, ab.Status.State);
        Assert.False(net.AreLinked(A, B));

        ITincanLink ba = b.CreateLink(A, await DescriptorAsync(a));
        Assert.Equal(LinkState.Connected, ab.Status.State);
        Assert.Equal(LinkState.Connected, ba.Status.State);
        Assert.True(net.AreLinked(A, B));
        Assert.Single(events);
        Assert.Same(ab, events[0].Link);
    }

    [Fact]
    public async Task A_wrong_key_never_connects()
    {
        var net = new FakeTincanNetwork();
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        FakeTincan c = net.CreateNode(C);
        ITincanLink ab = a.CreateLink(B, await DescriptorAsync(c)); // c's key for b
        b.CreateLink(A, await DescriptorAsync(a));
        Assert.Equal(LinkState.Connecting, ab.Status.State);
        Assert.False(net.AreLinked(A, B));
    }

    [Fact]
    public async Task The_connect_delay_passes_on_the_given_clock_only()
    {
        var time = new FakeTimeProvider();
        var net = new FakeTincanNetwork(time) { ConnectDelay = TimeSpan.FromSeconds(2) };
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        a.CreateLink(B, await DescriptorAsync(b));
        b.CreateLink(A, await DescriptorAsync(a));
        Task linked = net.WaitUntilAsync(() => net.AreLinked(A, B), Ct);

        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(linked.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        await linked.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(net.AreLinked(A, B));
    }

    [Fact]
    public async Task Removing_one_end_fails_the_other_after_the_dead_peer_delay()
    {
        var time = new FakeTimeProvider();
        var net = new FakeTincanNetwork(time) { DeadPeerDelay = TimeSpan.FromSeconds(5) };
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        a.CreateLink(B, await DescriptorAsync(b));
        ITincanLink ba = b.CreateLink(A, await DescriptorAsync(a));

        Assert.True(a.RemoveLink(B));
        Assert.False(a.RemoveLink(B));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(LinkState.Connected, ba.Status.State);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(LinkState.Failed, ba.Status.State);
        Assert.Equal(LinkFailureReason.PeerUnreachable, ba.Status.Reason);
    }

    [Fact]
    public async Task A_link_replaced_within_the_dead_peer_delay_keeps_the_other_end_up()
    {
        var time = new FakeTimeProvider();
        var net = new FakeTincanNetwork(time);
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        a.CreateLink(B, await DescriptorAsync(b));
        ITincanLink ba = b.CreateLink(A, await DescriptorAsync(a));

        a.RemoveLink(B);
        ITincanLink fresh = a.CreateLink(B, await DescriptorAsync(b));
        time.Advance(net.DeadPeerDelay);
        Assert.Equal(LinkState.Connected, ba.Status.State);
        Assert.Equal(LinkState.Connected, fresh.Status.State);
        Assert.True(net.AreLinked(A, B));
    }

    [Fact]
    public async Task The_same_key_keeps_the_link_object_and_a_key_held_for_another_peer_is_refused()
    {
        var net = new FakeTincanNetwork();
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        LinkDescriptor db = await DescriptorAsync(b);
        ITincanLink first = a.CreateLink(B, db);
        a.SetStatus(B, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.HandshakeTimedOut));

        Assert.Same(first, a.CreateLink(B, db));
        Assert.Equal(LinkState.Failed, first.Status.State); // like Tincan: remove it to start clean
        Assert.Equal(1, a.LinksCreated);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => a.CreateLink(C, db));
        Assert.Contains(B.Value, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Moving_raises_candidates_changed_and_the_descriptor_carries_the_new_endpoint()
    {
        var net = new FakeTincanNetwork();
        FakeTincan a = net.CreateNode(A);
        int raised = 0;
        a.LocalCandidatesChanged += (_, _) => raised++;
        a.MoveTo("198.18.9.9:6000");
        Assert.Equal(1, raised);
        Assert.Equal("198.18.9.9:6000", (await DescriptorAsync(a)).Candidates[0].EndPoint.ToString());
    }

    [Fact]
    public async Task Dispose_removes_every_link_and_is_idempotent()
    {
        var net = new FakeTincanNetwork { DeadPeerDelay = TimeSpan.Zero };
        FakeTincan a = net.CreateNode(A);
        FakeTincan b = net.CreateNode(B);
        a.CreateLink(B, await DescriptorAsync(b));
        ITincanLink ba = b.CreateLink(A, await DescriptorAsync(a));
        await a.DisposeAsync();
        await a.DisposeAsync();
        Assert.Empty(a.Links);
        Assert.Equal(LinkState.Failed, ba.Status.State);
        Assert.Throws<ObjectDisposedException>(() => a.CreateLink(B, ba is FakeTincanLink { Remote: { } r } ? r : throw new InvalidOperationException()));
    }
}
