using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane;

public sealed class InterfaceDetachTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Detached_interface_gets_nothing_while_links_stay_up_and_a_new_interface_gets_their_traffic()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        a.Nic.Inject(TestNode.Packet(b, 1));
        Assert.Equal(TestNode.Packet(b, 1), b.Nic.TakeWritten(TestNode.Timeout));

        Assert.True(await b.Tincan.DetachInterfaceAsync(Ct));
        Assert.Equal(0, b.Nic.ActiveReads);

        // Packets from the link arrive, authenticate and are dropped under their own reason; the link stays up.
        long noInterface = b.Manager.Drops.Get(DropReason.NoInterface);
        long received = b.LinkTo(a).GetStats().PacketsReceived;
        for (int i = 2; i < 7; i++)
        {
            a.Nic.Inject(TestNode.Packet(b, i));
        }

        await TestNode.WaitUntilAsync(() => b.Manager.Drops.Get(DropReason.NoInterface) == noInterface + 5, "5 packets dropped for want of an interface");
        Assert.Equal(received + 5, b.LinkTo(a).GetStats().PacketsReceived);
        Assert.Equal(0, b.Nic.WrittenCount);
        Assert.Equal(LinkState.Connected, b.LinkTo(a).Status.State);
        Assert.Equal(LinkState.Connected, a.LinkTo(b).Status.State);

        // Nothing reads the old NIC any more: a packet the kernel hands it goes nowhere.
        b.Nic.Inject(TestNode.Packet(a, 100));
        Assert.Null(a.Nic.TakeWritten(Short));
        Assert.False(await b.Tincan.DetachInterfaceAsync(Ct));

        using var fresh = new FakeNic("B2");
        var freshRouter = new TestRouter(b.Tincan);
        b.Tincan.AttachInterface(fresh, freshRouter);
        a.Nic.Inject(TestNode.Packet(b, 7));
        Assert.Equal(TestNode.Packet(b, 7), fresh.TakeWritten(TestNode.Timeout));
        fresh.Inject(TestNode.Packet(a, 8));
        Assert.Equal(TestNode.Packet(a, 8), a.Nic.TakeWritten(TestNode.Timeout));
        Assert.Equal(0, b.Nic.WrittenCount);
        Assert.Equal(1, Volatile.Read(ref freshRouter.Inbound));
        Assert.Equal(0, b.Nic.UsedAfterDispose);
    }

    [Fact]
    public async Task A_second_interface_is_refused_until_the_first_is_detached()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        using var other = new FakeNic("A2");
        var e = Assert.Throws<InvalidOperationException>(() => a.Tincan.AttachInterface(other, new TestRouter(a.Tincan)));
        Assert.Contains("Interface 'A' is already attached", e.Message, StringComparison.Ordinal);

        Assert.True(await a.Tincan.DetachInterfaceAsync(Ct));
        a.Tincan.AttachInterface(other, new TestRouter(a.Tincan));
        Assert.True(await a.Tincan.DetachInterfaceAsync(Ct));
        Assert.Equal(0, other.ActiveReads);
    }

    [Fact]
    public async Task Detach_waits_for_a_write_in_progress_and_nothing_touches_the_nic_after_it_returns()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        using var gate = new ManualResetEventSlim(false);
        b.Nic.WriteGate = gate;

        // B's receive thread is now inside the NIC's Write, as if the kernel were slow.
        a.Nic.Inject(TestNode.Packet(b, 1));
        Assert.True(b.Nic.WriteEntered.Wait(TestNode.Timeout, Ct));
        Task<bool> detach = b.Tincan.DetachInterfaceAsync(Ct).AsTask();
        await Task.Delay(Short, Ct);
        Assert.False(detach.IsCompleted, "detach returned while Tincan was still writing into the NIC");

        gate.Set();
        Assert.True(await detach.WaitAsync(TestNode.Timeout, Ct));
        Assert.Equal(TestNode.Packet(b, 1), b.Nic.TakeWritten(TestNode.Timeout));

        // The caller owns the NIC and may dispose it now; traffic keeps arriving and must not reach it.
        b.Nic.Dispose();
        long noInterface = b.Manager.Drops.Get(DropReason.NoInterface);
        for (int i = 2; i < 12; i++)
        {
            a.Nic.Inject(TestNode.Packet(b, i));
        }

        await TestNode.WaitUntilAsync(() => b.Manager.Drops.Get(DropReason.NoInterface) == noInterface + 10, "10 packets dropped for want of an interface");
        Assert.Equal(0, b.Nic.UsedAfterDispose);
        Assert.Equal(0, b.Manager.Drops.Get(DropReason.HandlerError));
    }

    [Fact]
    public async Task A_delivery_that_read_the_binding_just_before_detach_does_not_write_into_the_nic_after_detach_returned()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        using var paused = new ManualResetEventSlim(false);
        using var resume = new ManualResetEventSlim(false);
        b.Manager.BeforeDeliveryEnterForTests = () =>
        {
            paused.Set();
            resume.Wait(TestNode.Timeout);
        };

        // B's receive thread has seen the interface attached and stops right before it marks itself inside it.
        a.Nic.Inject(TestNode.Packet(b, 1));
        Assert.True(paused.Wait(TestNode.Timeout, Ct));
        Assert.True(await b.Tincan.DetachInterfaceAsync(Ct).AsTask().WaitAsync(TestNode.Timeout, Ct));
        b.Nic.Dispose();
        long noInterface = b.Manager.Drops.Get(DropReason.NoInterface);

        b.Manager.BeforeDeliveryEnterForTests = null;
        resume.Set();
        await TestNode.WaitUntilAsync(() => b.Manager.Drops.Get(DropReason.NoInterface) == noInterface + 1, "the paused packet dropped for want of an interface");
        Assert.Equal(0, b.Nic.UsedAfterDispose);
        Assert.Equal(0, Volatile.Read(ref b.Router.Inbound));
    }

    [Fact]
    public async Task Cancelled_detach_still_detaches_and_a_later_detach_waits_for_the_write_in_progress()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        using var gate = new ManualResetEventSlim(false);
        b.Nic.WriteGate = gate;
        a.Nic.Inject(TestNode.Packet(b, 1));
        Assert.True(b.Nic.WriteEntered.Wait(TestNode.Timeout, Ct));

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await b.Tincan.DetachInterfaceAsync(cancel.Token));

        // Nothing is attached any more, but the write is still running: the next detach reports false only after it.
        Task<bool> again = b.Tincan.DetachInterfaceAsync(Ct).AsTask();
        await Task.Delay(Short, Ct);
        Assert.False(again.IsCompleted);
        gate.Set();
        Assert.False(await again.WaitAsync(TestNode.Timeout, Ct));
        b.Nic.Dispose();
        Assert.Equal(0, b.Nic.UsedAfterDispose);
    }

    [Fact]
    public async Task Attach_and_detach_under_a_packet_flood_never_use_a_nic_after_detach_returned()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        Assert.True(await b.Tincan.DetachInterfaceAsync(Ct));

        // A floods B from another thread while B swaps interfaces; every swap disposes the NIC right after detach.
        using var stop = new CancellationTokenSource();
        Task flood = Task.Run(
            () =>
            {
                for (int i = 0; i < 200_000 && !stop.IsCancellationRequested; i++)
                {
                    a.Nic.Inject(TestNode.Packet(b, i, 64));
                    if (i % 16 == 0)
                    {
                        Thread.Sleep(1);
                    }
                }
            },
            Ct);

        var nics = new List<FakeNic>();
        try
        {
            for (int round = 0; round < 20; round++)
            {
                var nic = new FakeNic("B" + round) { DiscardWrites = true };
                nics.Add(nic);
                b.Tincan.AttachInterface(nic, new TestRouter(b.Tincan));
                await TestNode.WaitUntilAsync(() => nic.DiscardedCount > 0, $"round {round}: traffic reaches the new interface");
                Assert.True(await b.Tincan.DetachInterfaceAsync(Ct));
                nic.Dispose();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await flood;
        }

        Assert.All(nics, nic => Assert.Equal(0, nic.UsedAfterDispose));
        Assert.True(b.Manager.Drops.Get(DropReason.NoInterface) > 0);
        Assert.Equal(0, b.Manager.Drops.Get(DropReason.HandlerError));
        Assert.Equal(LinkState.Connected, b.LinkTo(a).Status.State);
    }

    [Fact]
    public async Task Dispose_stops_the_interface_reader_and_leaves_the_nic_to_its_owner()
    {
        TestNode a = await TestNode.StartAsync("A");
        await a.Tincan.DisposeAsync();
        Assert.Equal(0, a.Nic.ActiveReads);

        // Not disposed by Tincan: the owner can still use it.
        a.Nic.Inject([1, 2, 3]);
        Assert.Equal(0, a.Nic.UsedAfterDispose);
        Assert.False(await a.Tincan.DetachInterfaceAsync(Ct));
        await a.DisposeAsync();
    }
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_nic_disposed_before_the_node_lets_the_node_detach_and_dispose_without_throwing(bool detachFirst)
    {
        // Hosts used to dispose their NIC first on SIGTERM: the reader thread then ends by itself, the release of the
        // binding completes at once, and the detach that followed cancelled a disposed token source (issue 11).
        var options = new TincanOptions { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 };
        ITincan tincan = TincanNode.Create(options);
        await tincan.StartAsync(Ct);
        var nic = new SelfEndingNic();
        tincan.AttachInterface(nic, new TestRouter(tincan));
        await TestNode.WaitUntilAsync(() => nic.Reads > 0, "the reader thread reads");
        nic.Dispose();
        await TestNode.WaitUntilAsync(() => nic.ReaderLeft, "the reader thread ends by itself");

        // The thread marks its end just after the read threw; give it that moment, so the release is complete.
        await Task.Delay(100, Ct);

        if (detachFirst)
        {
            Assert.True(await tincan.DetachInterfaceAsync(Ct));
        }

        await tincan.DisposeAsync();
    }

    /// <summary>A NIC whose reads fail with <see cref="ObjectDisposedException"/> once disposed, as the real TUN device's do.</summary>
    private sealed class SelfEndingNic : IVirtualInterface
    {
        private int _disposed;
        private int _reads;
        private int _left;

        public string Name => "gone0";

        public VirtualInterfaceMode Mode => VirtualInterfaceMode.Tun;

        public int Mtu => VirtualInterfaceOptions.DefaultMtu;

        public int Index => 1;

        public System.Net.NetworkInformation.PhysicalAddress? MacAddress => null;

        public int Reads => Volatile.Read(ref _reads);

        public bool ReaderLeft => Volatile.Read(ref _left) != 0;

        public int Read(Span<byte> buffer, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            try
            {
                while (Volatile.Read(ref _disposed) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Thread.Sleep(5);
                }

                throw new ObjectDisposedException(Name);
            }
            catch
            {
                Volatile.Write(ref _left, 1);
                throw;
            }
        }

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => ValueTask.FromResult(Read(buffer.Span, cancellationToken));

        public bool Write(ReadOnlySpan<byte> packet) => false;

        public void AddAddress(InterfaceAddress address)
        {
        }

        public void RemoveAddress(InterfaceAddress address)
        {
        }

        public void SetMtu(int mtu)
        {
        }

        public void SetUp(bool up)
        {
        }

        public void Dispose() => Volatile.Write(ref _disposed, 1);
    }
}
