using Ipop.Tincan.Tests.DataPlane;

namespace Ipop.Tincan.Tests.Lifetime;

/// <summary>
/// Issue 15: a call out of order fails at the call, with a message that names the public type (<see cref="ITincan"/>)
/// and what to do, never the internal implementation type, and never later from another call.
/// </summary>
public sealed class MisuseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TincanOptions Loopback() => new() { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 };

    [Fact]
    public async Task Attaching_an_interface_before_start_is_refused_at_the_call_and_dispose_still_succeeds()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        using var nic = new FakeNic("early");

        var e = Assert.Throws<InvalidOperationException>(() => tincan.AttachInterface(nic, new TestRouter(tincan)));
        Assert.Contains("ITincan.StartAsync", e.Message, StringComparison.Ordinal);
        Assert.Contains("AttachInterface", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LinkManager", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, nic.ActiveReads);

        await tincan.DisposeAsync();
    }

    [Fact]
    public async Task After_start_the_refused_interface_attaches()
    {
        await using ITincan tincan = TincanNode.Create(Loopback());
        using var nic = new FakeNic("later");
        Assert.Throws<InvalidOperationException>(() => tincan.AttachInterface(nic, new TestRouter(tincan)));

        await tincan.StartAsync(Ct);
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");
    }

    [Fact]
    public async Task Every_operation_after_dispose_throws_an_ObjectDisposedException_naming_ITincan()
    {
        ITincan tincan = TincanNode.Create(Loopback());
        await tincan.StartAsync(Ct);
        await using ITincan other = TincanNode.Create(Loopback());
        await other.StartAsync(Ct);
        LinkDescriptor descriptor = await other.GetLocalDescriptorAsync(Ct);
        await tincan.DisposeAsync();
        using var nic = new FakeNic("late");

        List<ObjectDisposedException> thrown =
        [
            await Assert.ThrowsAsync<ObjectDisposedException>(() => tincan.StartAsync(Ct)),
            await Assert.ThrowsAsync<ObjectDisposedException>(() => tincan.GetLocalDescriptorAsync(Ct).AsTask()),
            Assert.Throws<ObjectDisposedException>(() => tincan.CreateLink(new PeerId("other"), descriptor)),
            Assert.Throws<ObjectDisposedException>(() => tincan.AttachInterface(nic, new TestRouter(tincan))),
        ];

        foreach (ObjectDisposedException e in thrown)
        {
            Assert.Equal(nameof(ITincan), e.ObjectName);
            Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("LinkManager", e.Message, StringComparison.Ordinal);
        }

        // Queries and removals after dispose answer (nothing there) instead of throwing: shutdown code calls them.
        Assert.False(tincan.RemoveLink(new PeerId("other")));
        Assert.False(tincan.TryGetLink(new PeerId("other"), out _));
        Assert.False(await tincan.DetachInterfaceAsync(Ct));
        Assert.Equal(0, nic.ActiveReads);
    }

    [Fact]
    public async Task The_local_descriptor_before_start_names_the_call_to_make()
    {
        await using ITincan tincan = TincanNode.Create(Loopback());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => tincan.GetLocalDescriptorAsync(Ct).AsTask());
        Assert.Contains("StartAsync", e.Message, StringComparison.Ordinal);
    }
}
