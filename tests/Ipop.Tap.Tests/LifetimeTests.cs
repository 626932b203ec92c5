using Ipop.Tincan;
using static Ipop.Tap.Tests.TestDevices;

namespace Ipop.Tap.Tests;

/// <summary>
/// Issue 15: a real TUN device attached to a real Tincan node, torn down in every order (device first, node first,
/// both at once, twice, never started). Nothing throws, Tincan never removes the device (its caller owns it), and
/// disposing the device removes it.
/// </summary>
[Collection(NamespaceCollection.Name)]
public sealed class LifetimeTests(NetworkNamespace ns)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IVirtualInterface CreateTun(string name) => ns.Enter(() => Factory.Create(new VirtualInterfaceOptions
    {
        Name = name,
        Mode = VirtualInterfaceMode.Tun,
        Addresses = [InterfaceAddress.Parse("198.19.5.1/24")],
    }));

    // Started inside the namespace, beside the device: its address monitor then sees the device come and go, as in a
    // host where both live in one namespace.
    private Task<ITincan> StartedNodeAsync() => Task.FromResult(ns.Enter(() =>
    {
        ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 });
        tincan.StartAsync(Ct).GetAwaiter().GetResult();
        return tincan;
    }));

    [Fact]
    public async Task Disposing_the_attached_device_then_the_node_throws_nothing()
    {
        ns.RequireRoot();
        ITincan tincan = await StartedNodeAsync();
        IVirtualInterface tun = CreateTun("ltnicfirst");
        tincan.AttachInterface(tun, new DropAll());

        // Let the node's reader thread block in the device's read, as it does in a running host.
        await Task.Delay(100, Ct);
        tun.Dispose();
        Assert.Null(Show(ns, "link", "ltnicfirst"));
        await tincan.DisposeAsync();
        await tincan.DisposeAsync();
    }

    [Fact]
    public async Task Disposing_the_node_then_the_device_leaves_the_device_to_its_owner_until_then()
    {
        ns.RequireRoot();
        ITincan tincan = await StartedNodeAsync();
        IVirtualInterface tun = CreateTun("ltnodefirst");
        tincan.AttachInterface(tun, new DropAll());
        await Task.Delay(100, Ct);

        await tincan.DisposeAsync();
        Assert.NotNull(Show(ns, "link", "ltnodefirst"));
        Assert.True(tun.Write(Ipv4Packet()), "the device still works for its owner after the node let go of it");
        tun.Dispose();
        Assert.Null(Show(ns, "link", "ltnodefirst"));
        tun.Dispose();
        await tincan.DisposeAsync();
    }

    [Fact]
    public async Task Disposing_the_device_and_the_node_at_the_same_time_throws_nothing()
    {
        ns.RequireRoot();

        // A race: repeated so that both orders of the inner steps happen.
        for (int i = 0; i < 10; i++)
        {
            ITincan tincan = await StartedNodeAsync();
            IVirtualInterface tun = CreateTun("ltrace" + i);
            tincan.AttachInterface(tun, new DropAll());
            await Task.Delay(20, Ct);
            using var go = new ManualResetEventSlim();
            Task device = Task.Run(() =>
            {
                go.Wait(Ct);
                tun.Dispose();
            }, Ct);
            Task node = Task.Run(async () =>
            {
                go.Wait(Ct);
                await tincan.DisposeAsync();
            }, Ct);
            go.Set();
            await Task.WhenAll(device, node).WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Null(Show(ns, "link", "ltrace" + i));
        }
    }

    [Fact]
    public async Task Attaching_the_device_before_start_is_refused_at_the_call_and_both_dispose_cleanly()
    {
        ns.RequireRoot();
        ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        IVirtualInterface tun = CreateTun("ltearly");

        var e = Assert.Throws<InvalidOperationException>(() => tincan.AttachInterface(tun, new DropAll()));
        Assert.Contains("ITincan.StartAsync", e.Message, StringComparison.Ordinal);

        await tincan.DisposeAsync();
        tun.Dispose();
    }

    [Fact]
    public void The_device_disposes_from_many_threads_at_once_and_every_call_returns_with_it_removed()
    {
        ns.RequireRoot();
        IVirtualInterface tun = CreateTun("ltmany");
        using var go = new ManualResetEventSlim();
        int stillThere = 0;
        Thread[] threads = [.. Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            go.Wait();
            tun.Dispose();

            // Not only the winner: a call that lost the race returns once the device is gone, too.
            if (Show(ns, "link", "ltmany") is not null)
            {
                Interlocked.Increment(ref stillThere);
            }
        }))];
        foreach (Thread t in threads)
        {
            t.Start();
        }

        go.Set();
        foreach (Thread t in threads)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(20)), "a dispose did not return");
        }

        Assert.Equal(0, Volatile.Read(ref stillThere));
    }

    [Fact]
    public void Operations_on_a_disposed_device_throw_an_ObjectDisposedException_naming_the_interface()
    {
        ns.RequireRoot();
        IVirtualInterface tun = CreateTun("ltgone");
        tun.Dispose();

        List<ObjectDisposedException> thrown =
        [
            Assert.Throws<ObjectDisposedException>(() => tun.Read(new byte[2048], CancellationToken.None)),
            Assert.Throws<ObjectDisposedException>(() => tun.SetMtu(1300)),
            Assert.Throws<ObjectDisposedException>(() => tun.SetUp(true)),
            Assert.Throws<ObjectDisposedException>(() => tun.AddAddress(InterfaceAddress.Parse("198.19.6.1/24"))),
        ];
        foreach (ObjectDisposedException e in thrown)
        {
            Assert.Equal(nameof(IVirtualInterface), e.ObjectName);
            Assert.Contains("'ltgone'", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("TunTapDevice", e.Message, StringComparison.Ordinal);
        }

        // A write racing dispose on the data path is a counted drop, not an exception.
        Assert.False(tun.Write(Ipv4Packet()));
    }

    private static byte[] Ipv4Packet()
    {
        // A minimal IPv4 header to 198.19.5.2 (the kernel accepts it; nothing answers).
        byte[] p = new byte[20];
        p[0] = 0x45;
        p[3] = 20;
        p[8] = 64;
        p[9] = 17;
        p[12] = 198;
        p[13] = 19;
        p[14] = 5;
        p[15] = 2;
        p[16] = 198;
        p[17] = 19;
        p[18] = 5;
        p[19] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), PacketCrafter.Checksum(p));
        return p;
    }

    /// <summary>A router that drops everything: these tests are about who holds the device, not about packets.</summary>
    private sealed class DropAll : IPacketRouter
    {
        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;
    }
}
