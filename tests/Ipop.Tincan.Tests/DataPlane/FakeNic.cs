using System.Collections.Concurrent;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>An in-memory TUN: tests inject packets the "kernel" sends and collect packets Tincan writes.</summary>
internal sealed class FakeNic(string name) : IVirtualInterface
{
    private readonly BlockingCollection<byte[]> _toRead = new(boundedCapacity: 10_000);
    private readonly BlockingCollection<byte[]> _written = new(boundedCapacity: 10_000);
    private long _discarded;
    private int _disposed;
    private int _activeReads;
    private int _activeWrites;
    private long _usedAfterDispose;
    private int _multiPacketReads;
    private int _multiPacketWrites;
    private int _readBatchCalls;

    public string Name { get; } = name;

    public VirtualInterfaceMode Mode { get; init; } = VirtualInterfaceMode.Tun;

    public int Mtu { get; init; } = VirtualInterfaceOptions.DefaultMtu;

    public int Index => 1;

    public PhysicalAddress? MacAddress => null;

    public int WrittenCount => _written.Count;

    /// <summary>When set, writes are only counted (no copy), so allocation tests measure Tincan alone.</summary>
    public bool DiscardWrites { get; set; }

    public long DiscardedCount => Interlocked.Read(ref _discarded);

    /// <summary>When set, <see cref="Write"/> waits (at most 10 s) until it is set: holds the receive thread inside a write.</summary>
    public ManualResetEventSlim? WriteGate { get; set; }

    /// <summary>Set when a write starts (before it waits on <see cref="WriteGate"/>).</summary>
    public ManualResetEventSlim WriteEntered { get; } = new();

    /// <summary>Reads or writes that started after dispose, plus reads and writes still running when dispose began.</summary>
    public long UsedAfterDispose => Interlocked.Read(ref _usedAfterDispose);

    /// <summary>Threads inside <see cref="Read"/> now.</summary>
    public int ActiveReads => Volatile.Read(ref _activeReads);

    /// <summary>A packet the kernel would hand to the VPN.</summary>
    public void Inject(byte[] packet) => _toRead.Add(packet);

    /// <summary>Waits (bounded) for the next packet Tincan delivered to this interface.</summary>
    public byte[]? TakeWritten(TimeSpan timeout) => _written.TryTake(out byte[]? p, timeout) ? p : null;

    public int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _activeReads);
        try
        {
            CountIfDisposed();
            byte[] packet = _toRead.Take(cancellationToken);
            packet.CopyTo(buffer);
            return packet.Length;
        }
        finally
        {
            Interlocked.Decrement(ref _activeReads);
        }
    }

    /// <summary>
    /// When set, <see cref="ReadBatch"/> hands out every queued packet (up to the batch) per call, as an offloading
    /// TUN does with a TSO super-packet; otherwise one per call (the interface's default).
    /// </summary>
    public bool Batched { get; set; }

    /// <summary>Calls of <see cref="ReadBatch"/> that returned more than one packet.</summary>
    public int MultiPacketReads => Volatile.Read(ref _multiPacketReads);

    /// <summary>Calls of <see cref="WriteBatch"/> with more than one packet.</summary>
    public int MultiPacketWrites => Volatile.Read(ref _multiPacketWrites);

    /// <summary>Bytes the reading thread had allocated when each <see cref="ReadBatch"/> call began (by call number).</summary>
    public long[] AllocatedAtRead { get; } = new long[100_000];

    /// <summary>Bytes the reading thread had allocated when each <see cref="ReadBatch"/> call returned (by call number).</summary>
    public long[] AllocatedAfterRead { get; } = new long[100_000];

    /// <summary>
    /// Bytes the reading thread allocated outside this fake (between one read's return and the next read), from
    /// call <paramref name="from"/> to call <paramref name="to"/>: what Tincan itself allocated routing and sending.
    /// </summary>
    public long AllocatedBetweenReads(int from, int to)
    {
        long sum = 0;
        for (int call = from; call < to; call++)
        {
            sum += AllocatedAtRead[call + 1] - AllocatedAfterRead[call];
        }

        return sum;
    }

    /// <summary>Calls of <see cref="ReadBatch"/> so far.</summary>
    public int ReadBatchCalls => Volatile.Read(ref _readBatchCalls);

    public int ReadBatch(PacketBatch batch, CancellationToken cancellationToken)
    {
        int call = Interlocked.Increment(ref _readBatchCalls);
        if (call < AllocatedAtRead.Length)
        {
            AllocatedAtRead[call] = GC.GetAllocatedBytesForCurrentThread();
        }

        int first = Read(batch[0].Span, cancellationToken);
        batch.SetLength(0, first);
        int n = 1;
        while (Batched && n < batch.Count && _toRead.TryTake(out byte[]? packet))
        {
            packet.CopyTo(batch[n].Span);
            batch.SetLength(n, packet.Length);
            n++;
        }

        if (n > 1)
        {
            Interlocked.Increment(ref _multiPacketReads);
        }

        if (call < AllocatedAfterRead.Length)
        {
            AllocatedAfterRead[call] = GC.GetAllocatedBytesForCurrentThread();
        }

        return n;
    }

    public int WriteBatch(PacketBatch batch)
    {
        if (batch.Count > 1)
        {
            Interlocked.Increment(ref _multiPacketWrites);
        }

        int written = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            written += Write(batch[i].Span) ? 1 : 0;
        }

        return written;
    }

    public bool Write(ReadOnlySpan<byte> packet)
    {
        Interlocked.Increment(ref _activeWrites);
        try
        {
            if (CountIfDisposed())
            {
                return false;
            }

            WriteEntered.Set();
            WriteGate?.Wait(TimeSpan.FromSeconds(10));
            if (DiscardWrites)
            {
                Interlocked.Increment(ref _discarded);
                return true;
            }

            _written.Add(packet.ToArray());
            return true;
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Increment(ref _usedAfterDispose);
            return false;
        }
        finally
        {
            Interlocked.Decrement(ref _activeWrites);
        }
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => ValueTask.FromResult(Read(buffer.Span, cancellationToken));

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

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Interlocked.Add(ref _usedAfterDispose, Volatile.Read(ref _activeReads) + Volatile.Read(ref _activeWrites));
        _toRead.Dispose();
        _written.Dispose();
        WriteEntered.Dispose();
    }

    private bool CountIfDisposed()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            return false;
        }

        Interlocked.Increment(ref _usedAfterDispose);
        return true;
    }
}

/// <summary>A router for tests: byte 0 of a packet names the destination peer ("B", "C"...); 0xff floods.</summary>
internal sealed class TestRouter(ITincan tincan) : IPacketRouter
{
    private readonly long[] _allocated = new long[100_000];
    private readonly PeerId?[] _peers = new PeerId?[256];

    public int Inbound;

    /// <summary>Bytes the receive thread allocated between two inbound packets (by sequence).</summary>
    public long AllocatedOnReceiveThread(int from, int to) => _allocated[to] - _allocated[from];

    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        if (packet[0] == 0xff)
        {
            return RouteDecision.Flood;
        }

        // Peer ids cached per byte: the router allocates nothing per packet, so allocation tests measure Tincan.
        PeerId? peer = _peers[packet[0]] ??= new PeerId(((char)packet[0]).ToString());
        return tincan.TryGetLink(peer.Value, out ITincanLink? link) ? RouteDecision.To(link) : RouteDecision.Drop;
    }

    public bool AcceptInbound(ITincanLink from, Span<byte> packet)
    {
        int n = Interlocked.Increment(ref Inbound);
        if (n < _allocated.Length)
        {
            _allocated[n] = GC.GetAllocatedBytesForCurrentThread();
        }

        return true;
    }
}
