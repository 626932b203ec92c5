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

    public string Name { get; } = name;

    public VirtualInterfaceMode Mode => VirtualInterfaceMode.Tun;

    public int Mtu => 1420;

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

    public int Inbound;

    /// <summary>Bytes the receive thread allocated between two inbound packets (by sequence).</summary>
    public long AllocatedOnReceiveThread(int from, int to) => _allocated[to] - _allocated[from];

    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        if (packet[0] == 0xff)
        {
            return RouteDecision.Flood;
        }

        return tincan.TryGetLink(new PeerId(((char)packet[0]).ToString()), out ITincanLink? link) ? RouteDecision.To(link) : RouteDecision.Drop;
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
