using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.DataPlane.Udp;
using Ipop.Tincan.Tests.Stun;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Tests.DataPlane.Udp;

/// <summary>The batched, offloaded UDP socket over loopback: what goes in comes out, datagram for datagram.</summary>
public sealed class UdpMuxBatchTests
{
    // Ipop's transport messages start with 4; any registered first byte works.
    private const byte Kind = 4;

    [Fact]
    public void Start_logs_one_line_saying_what_is_on()
    {
        var log = new TestLogger();
        using (var mux = new UdpMux(IPAddress.Loopback, 0, 1 << 20, new DropCounters(), log))
        {
            string expected = $"UDP socket {mux.LocalEndPoint}: batch 64, GSO {(mux.GsoEnabled ? "on" : "off")}";
            Assert.Contains(log.Messages, m => m.StartsWith(expected, StringComparison.Ordinal));
            Assert.Equal(64, mux.BatchSize);
            Assert.True(mux.GsoEnabled, string.Join('\n', log.Messages));
            Assert.True(mux.GroEnabled, string.Join('\n', log.Messages));
        }

        var offLog = new TestLogger();
        using (var off = new UdpMux(IPAddress.Loopback, 0, 1 << 20, new DropCounters(), offLog, batchSize: 8, segmentationOffload: false, receiveOffload: false))
        {
            Assert.Contains($"UDP socket {off.LocalEndPoint}: batch 8, GSO off (Tincan:UdpSegmentationOffload is false), GRO off (Tincan:UdpReceiveOffload is false)", offLog.Messages);
        }

        var singleLog = new TestLogger();
        using var single = new UdpMux(IPAddress.Loopback, 0, 1 << 20, new DropCounters(), singleLog, batchSize: 1);
        Assert.Contains($"UDP socket {single.LocalEndPoint}: batch 1, GSO off (batch size 1), GRO off (batch size 1)", singleLog.Messages);
        Assert.Single(singleLog.Entries, e => e.Level == LogLevel.Information);
    }

    [Fact]
    public void Gso_send_of_equal_datagrams_and_a_short_one_arrives_as_separate_datagrams()
    {
        var drops = new DropCounters();
        using var mux = new UdpMux(IPAddress.Loopback, 0, 1 << 20, drops, NullLogger.Instance);
        using Socket receiver = PlainSocket(IPAddress.Loopback);
        SocketAddress to = mux.ToSocketAddress((IPEndPoint)receiver.LocalEndPoint!)!;
        var batch = new DatagramBatch(64);
        byte[][] sent = Fill(batch, to, [.. Enumerable.Repeat(1200, 20), 500], seed: 1);

        Assert.Equal(21, mux.Send(batch));

        Assert.Equal(0, batch.Count);
        Assert.True(mux.GsoEnabled);
        Assert.Equal(1, mux.MessagesSent);
        AssertReceived(receiver, sent);
        Assert.Equal(0, drops.Get(DropReason.SendFailed));
    }

    [Fact]
    public void Gro_receive_splits_a_coalesced_message_at_the_datagram_boundaries()
    {
        // Loopback keeps a GSO message whole up to a socket with UDP_GRO, which then receives it as one coalesced
        // message with gso_size: exactly what a NIC's GRO would hand over.
        using var receiver = new UdpMux(IPAddress.Loopback, 0, 4 << 20, new DropCounters(), NullLogger.Instance);
        var handler = new RecordingHandler();
        receiver.RegisterHandler(Kind, Kind, handler);
        receiver.Start();
        using var sender = new UdpMux(IPAddress.Loopback, 0, 4 << 20, new DropCounters(), NullLogger.Instance);
        SocketAddress to = sender.ToSocketAddress(receiver.LocalEndPoint)!;
        var batch = new DatagramBatch(64);
        byte[][] sent = Fill(batch, to, [.. Enumerable.Repeat(1000, 40), 300, .. Enumerable.Repeat(700, 10)], seed: 2);

        Assert.Equal(51, sender.Send(batch));

        (List<byte[]> datagrams, List<IPEndPoint?> sources) = handler.WaitFor(51);
        Assert.Equal(sent, datagrams);
        Assert.All(sources, s => Assert.Equal(sender.LocalEndPoint, s));
        Assert.True(receiver.GroEnabled);
        Assert.True(receiver.GroMessagesReceived >= 1, $"coalesced messages: {receiver.GroMessagesReceived}");
        Assert.InRange(handler.BatchEnds, 1, 51);
        Assert.Null(handler.Violation);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1)]
    public void Datagrams_from_a_plain_socket_reach_the_handler_one_by_one_with_batch_ends(int batchSize)
    {
        using var mux = new UdpMux(IPAddress.Loopback, 0, 4 << 20, new DropCounters(), NullLogger.Instance, batchSize);
        var handler = new RecordingHandler();
        mux.RegisterHandler(Kind, Kind, handler);
        mux.Start();
        using Socket sender = PlainSocket(IPAddress.Loopback);
        var expected = new List<byte[]>();
        for (int i = 0; i < 200; i++)
        {
            byte[] datagram = Datagram(1 + ((i * 37) % 1400), i);
            expected.Add(datagram);
            sender.SendTo(datagram, mux.LocalEndPoint);
        }

        (List<byte[]> datagrams, List<IPEndPoint?> sources) = handler.WaitFor(200);
        Assert.Equal(expected, datagrams);
        Assert.All(sources, s => Assert.Equal(sender.LocalEndPoint, s));
        Assert.Null(handler.Violation);
    }

    [Fact]
    public void A_batch_with_mixed_destinations_reaches_each_in_order()
    {
        using var mux = new UdpMux(IPAddress.Loopback, 0, 1 << 20, new DropCounters(), NullLogger.Instance);
        using Socket first = PlainSocket(IPAddress.Loopback);
        using Socket second = PlainSocket(IPAddress.Loopback);

        // Two SocketAddress objects for the first peer: equal addresses must merge even when not the same object.
        SocketAddress a1 = mux.ToSocketAddress((IPEndPoint)first.LocalEndPoint!)!;
        SocketAddress a2 = mux.ToSocketAddress((IPEndPoint)first.LocalEndPoint!)!;
        SocketAddress b = mux.ToSocketAddress((IPEndPoint)second.LocalEndPoint!)!;
        var batch = new DatagramBatch(64);
        byte[][] toFirst1 = Fill(batch, a1, [800, 800, 800], seed: 10);
        byte[][] toFirst2 = Fill(batch, a2, [800, 800], seed: 11);
        byte[][] toSecond = Fill(batch, b, [600, 600, 900], seed: 12);
        byte[][] toFirst3 = Fill(batch, a1, [100], seed: 13);

        Assert.Equal(9, mux.Send(batch));

        // first: one merged run of five; second: a run of two, then 900 (longer) starts a new message; first again.
        Assert.Equal(4, mux.MessagesSent);
        AssertReceived(first, [.. toFirst1, .. toFirst2, .. toFirst3]);
        AssertReceived(second, toSecond);
    }

    [Theory]
    [InlineData("gso-off")]
    [InlineData("gro-off")]
    [InlineData("batch-1")]
    [InlineData("eio")]
    public void Every_fallback_still_delivers_everything(string fallback)
    {
        var log = new TestLogger();
        var drops = new DropCounters();
        using var receiver = new UdpMux(IPAddress.Loopback, 0, 4 << 20, new DropCounters(), NullLogger.Instance, receiveOffload: fallback != "gro-off", batchSize: fallback == "batch-1" ? 1 : 64);
        var handler = new RecordingHandler();
        receiver.RegisterHandler(Kind, Kind, handler);
        receiver.Start();
        using var sender = new UdpMux(IPAddress.Loopback, 0, 4 << 20, drops, log, segmentationOffload: fallback != "gso-off", batchSize: fallback == "batch-1" ? 1 : 64);
        if (fallback == "eio")
        {
            sender.SimulatedGsoFailures = 1;
        }

        SocketAddress to = sender.ToSocketAddress(receiver.LocalEndPoint)!;
        var batch = new DatagramBatch(64);
        byte[][] sent = Fill(batch, to, [.. Enumerable.Repeat(1100, 30), 50, .. Enumerable.Repeat(1100, 9)], seed: 3);

        Assert.Equal(40, sender.Send(batch));

        (List<byte[]> datagrams, _) = handler.WaitFor(40);
        Assert.Equal(sent, datagrams);
        Assert.Null(handler.Violation);
        Assert.Equal(0, drops.Get(DropReason.SendFailed));
        switch (fallback)
        {
            case "gso-off":
            case "batch-1":
                Assert.False(sender.GsoEnabled);
                Assert.Equal(fallback == "batch-1" ? 0 : 40, sender.MessagesSent);
                break;
            case "gro-off":
                Assert.False(receiver.GroEnabled);
                Assert.Equal(0, receiver.GroMessagesReceived);
                break;
            case "eio":
                // The first message failed with EIO and was resent one datagram at a time; GSO stays off after it.
                Assert.False(sender.GsoEnabled);
                Assert.Single(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("segmentation offload failed", StringComparison.Ordinal));
                var again = new DatagramBatch(8);
                byte[][] more = Fill(again, to, [500, 500, 500], seed: 4);
                long before = sender.MessagesSent;
                Assert.Equal(3, sender.Send(again));
                Assert.Equal(3, sender.MessagesSent - before);
                Assert.Equal([.. sent, .. more], handler.WaitFor(43).Datagrams);
                break;
        }
    }

    [Fact]
    public void A_dual_stack_socket_sends_and_receives_v4_mapped_and_v6()
    {
        using var mux = new UdpMux(IPAddress.Any, 0, 1 << 20, new DropCounters(), NullLogger.Instance);
        Assert.True(mux.DualMode);
        var handler = new RecordingHandler();
        mux.RegisterHandler(Kind, Kind, handler);
        mux.Start();
        using Socket v4 = PlainSocket(IPAddress.Loopback);
        using Socket v6 = PlainSocket(IPAddress.IPv6Loopback);
        var batch = new DatagramBatch(16);
        byte[][] toV4 = Fill(batch, mux.ToSocketAddress((IPEndPoint)v4.LocalEndPoint!)!, [700, 700, 300], seed: 5);
        byte[][] toV6 = Fill(batch, mux.ToSocketAddress((IPEndPoint)v6.LocalEndPoint!)!, [700, 700], seed: 6);

        Assert.Equal(5, mux.Send(batch));

        AssertReceived(v4, toV4);
        AssertReceived(v6, toV6);
        v4.SendTo(Datagram(64, 1), new IPEndPoint(IPAddress.Loopback, mux.LocalEndPoint.Port));
        (_, List<IPEndPoint?> sources) = handler.WaitFor(1);
        v6.SendTo(Datagram(64, 2), new IPEndPoint(IPAddress.IPv6Loopback, mux.LocalEndPoint.Port));
        (_, sources) = handler.WaitFor(2);
        Assert.Equal([(IPEndPoint)v4.LocalEndPoint!, (IPEndPoint)v6.LocalEndPoint!], sources);
    }

    [Fact]
    public void Dispose_while_a_receive_is_blocked_returns_before_the_receive_timeout()
    {
        var mux = new UdpMux(IPAddress.Loopback, 0, 1 << 20, new DropCounters(), NullLogger.Instance);
        var handler = new RecordingHandler();
        mux.RegisterHandler(Kind, Kind, handler);
        mux.Start();

        // One datagram through proves the thread is in its loop; after it, it blocks in recvmmsg again.
        using Socket sender = PlainSocket(IPAddress.Loopback);
        sender.SendTo(Datagram(10, 0), mux.LocalEndPoint);
        Assert.Single(handler.WaitFor(1).Datagrams);

        var watch = Stopwatch.StartNew();
        mux.Dispose();
        Assert.True(watch.ElapsedMilliseconds < 450, $"Dispose took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Sending_batches_allocates_nothing()
    {
        var drops = new DropCounters();
        using var mux = new UdpMux(IPAddress.Loopback, 0, 4 << 20, drops, NullLogger.Instance);
        using Socket sink = PlainSocket(IPAddress.Loopback);
        SocketAddress to = mux.ToSocketAddress((IPEndPoint)sink.LocalEndPoint!)!;

        // An equal address in another object: comparing addresses by value must not allocate either.
        SocketAddress same = mux.ToSocketAddress((IPEndPoint)sink.LocalEndPoint!)!;
        byte[] buffer = GC.AllocateUninitializedArray<byte>(64 * 1400, pinned: true);
        var batch = new DatagramBatch(64);
        int sent = 0;
        long allocated = 0;
        var allocatingRounds = new List<string>();
        for (int round = 0; round < 300; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 64; i++)
            {
                // Runs of equal lengths with a shorter tail every 16, as a data plane would produce.
                int length = i % 16 == 15 ? 200 : 1400;
                buffer[i * 1400] = Kind;
                batch.Add(buffer.AsMemory(i * 1400, length), i % 2 == 0 ? to : same);
            }

            sent += mux.Send(batch);
            if (round >= 20)
            {
                long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
                allocated += bytes;
                if (bytes != 0 && allocatingRounds.Count < 10)
                {
                    // Which rounds, and what the socket saw then: one CI rehearsal saw 7,920 B once, never reproduced.
                    allocatingRounds.Add($"round {round}: {bytes} B, sent so far {sent}, send drops {drops.Get(DropReason.SendFailed)}");
                }
            }
        }

        Assert.Equal(300 * 64, sent);
        Assert.Equal(300 * 4, mux.MessagesSent);
        Assert.True(allocated == 0, $"{allocated} B allocated: {string.Join("; ", allocatingRounds)}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Receiving_batches_allocates_nothing(bool receiveOffload)
    {
        using var receiver = new UdpMux(IPAddress.Loopback, 0, 8 << 20, new DropCounters(), NullLogger.Instance, receiveOffload: receiveOffload);
        var handler = new AllocationHandler(warmup: 2000);
        receiver.RegisterHandler(Kind, Kind, handler);
        receiver.Start();
        using var sender = new UdpMux(IPAddress.Loopback, 0, 8 << 20, new DropCounters(), NullLogger.Instance);
        SocketAddress to = sender.ToSocketAddress(receiver.LocalEndPoint)!;
        byte[] buffer = GC.AllocateUninitializedArray<byte>(32 * 1200, pinned: true);
        var batch = new DatagramBatch(32);
        for (int i = 0; i < 32; i++)
        {
            buffer[i * 1200] = Kind;
        }

        // Bounded in count and time; the receiver's buffer is large, yet loopback may still drop under load, so the
        // test waits for "enough" datagrams rather than all of them.
        long deadline = Environment.TickCount64 + 20_000;
        for (int round = 0; round < 2000 && handler.Datagrams < 20_000 && Environment.TickCount64 < deadline; round++)
        {
            for (int i = 0; i < 32; i++)
            {
                batch.Add(buffer.AsMemory(i * 1200, 1200), to);
            }

            sender.Send(batch);
            if (round % 8 == 7)
            {
                Thread.Yield();
            }
        }

        Assert.True(SpinWait.SpinUntil(() => handler.Datagrams >= 20_000 && handler.MeasuredBatches > 10, 10_000), $"received {handler.Datagrams}");
        // Under one byte per datagram means nothing per datagram or batch (the smallest object is 24 bytes); the
        // runtime may still allocate once while it tiers a method up (32 bytes seen in optimised builds).
        Assert.True(handler.AllocatedAfterWarmup < handler.Datagrams - 2000, $"the receive thread allocated {handler.AllocatedAfterWarmup} bytes over {handler.Datagrams - 2000} datagrams");
    }

    private static Socket PlainSocket(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000, ReceiveBufferSize = 1 << 20 };
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }

    private static byte[] Datagram(int length, int seed)
    {
        byte[] datagram = new byte[length];
        new Random(seed).NextBytes(datagram);
        datagram[0] = Kind;
        return datagram;
    }

    /// <summary>Adds datagrams of the given lengths (copied into pinned memory) for <paramref name="to"/>; returns their bytes.</summary>
    private static byte[][] Fill(DatagramBatch batch, SocketAddress to, int[] lengths, int seed)
    {
        var result = new byte[lengths.Length][];
        for (int i = 0; i < lengths.Length; i++)
        {
            result[i] = Datagram(lengths[i], (seed * 1000) + i);
            byte[] pinned = GC.AllocateUninitializedArray<byte>(lengths[i], pinned: true);
            result[i].CopyTo(pinned, 0);
            batch.Add(pinned, to);
        }

        return result;
    }

    private static void AssertReceived(Socket receiver, byte[][] expected)
    {
        byte[] buffer = new byte[65536];
        var received = new List<byte[]>();
        for (int i = 0; i < expected.Length; i++)
        {
            int n = receiver.Receive(buffer);
            received.Add(buffer.AsSpan(0, n).ToArray());
        }

        Assert.Equal(expected, received);
    }

    /// <summary>Counts datagrams and measures the receive thread's allocations between batch ends after a warm-up.</summary>
    private sealed class AllocationHandler(int warmup) : IDatagramHandler
    {
        private long _datagrams;
        private long _start = -1;
        private long _allocated;
        private long _measured;

        public long Datagrams => Interlocked.Read(ref _datagrams);

        public long MeasuredBatches => Interlocked.Read(ref _measured);

        public long AllocatedAfterWarmup => Interlocked.Read(ref _allocated);

        public void OnDatagram(Memory<byte> datagram, SocketAddress from) => Interlocked.Increment(ref _datagrams);

        public void OnBatchEnd()
        {
            long now = GC.GetAllocatedBytesForCurrentThread();
            if (_start >= 0)
            {
                Interlocked.Exchange(ref _allocated, now - _start);
                Interlocked.Increment(ref _measured);
            }
            else if (Interlocked.Read(ref _datagrams) >= warmup)
            {
                _start = now;
            }
        }
    }
}
