using Ipop.Tincan.Tests.DataPlane;

namespace Ipop.Tincan.Tests.Lifetime;

/// <summary>
/// Issue 15: every way a host or a test tears a node down ends without an exception, in any order, any number of
/// times, and the NIC (which the caller owns) is never used after either side was disposed.
/// </summary>
public sealed class DisposalOrderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TincanOptions Loopback() => new() { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 };

    [Fact]
    public async Task A_started_node_with_an_attached_nic_disposes_the_nic_first_then_the_node()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.StartAsync(Ct);
        var nic = new FakeNic("nicfirst");
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");

        nic.Dispose();
        await tincan.DisposeAsync();
        await tincan.DisposeAsync();
    }

    [Fact]
    public async Task A_started_node_with_an_attached_nic_disposes_the_node_first_then_the_nic()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.StartAsync(Ct);
        var nic = new FakeNic("nodefirst");
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");

        await tincan.DisposeAsync();
        Assert.Equal(0, nic.ActiveReads);
        nic.Dispose();
        Assert.Equal(0, nic.UsedAfterDispose);
        await tincan.DisposeAsync();
    }

    [Fact]
    public async Task A_node_that_was_never_started_disposes_twice()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.DisposeAsync();
        await tincan.DisposeAsync();
    }

    [Fact]
    public async Task A_node_with_links_but_never_started_disposes()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await using ITincan other = TincanNode.Create(Loopback());
        await other.StartAsync(Ct);
        tincan.CreateLink(new PeerId("other"), await other.GetLocalDescriptorAsync(Ct));
        await tincan.DisposeAsync();
        Assert.All(tincan.Links, l => Assert.Equal(LinkState.Closed, l.Status.State));
    }

    [Fact]
    public async Task Concurrent_disposes_all_complete_and_none_throws()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.StartAsync(Ct);
        using var nic = new FakeNic("concurrent");
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");

        using var go = new ManualResetEventSlim();
        Task[] disposes = [.. Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            go.Wait(Ct);
            await tincan.DisposeAsync();
        }, Ct))];
        go.Set();
        await Task.WhenAll(disposes).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // Every call returns once the node has let go of the NIC, not only the first one.
        Assert.Equal(0, nic.ActiveReads);
    }

    [Fact]
    public async Task A_second_dispose_waits_for_the_first_to_let_go_of_the_nic()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.StartAsync(Ct);
        using var nic = new FakeNic("second");
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");

        ValueTask first = tincan.DisposeAsync();
        await tincan.DisposeAsync();
        Assert.Equal(0, nic.ActiveReads);
        await first;
    }

    [Fact]
    public async Task A_synchronous_dispose_of_the_node_lets_go_of_the_nic()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.StartAsync(Ct);
        using var nic = new FakeNic("sync");
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");

        ((IDisposable)tincan).Dispose();
        Assert.Equal(0, nic.ActiveReads);
        ((IDisposable)tincan).Dispose();
        await tincan.DisposeAsync();
    }
}
