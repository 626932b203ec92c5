using System.Collections.Concurrent;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>An in-memory TUN: tests inject packets the "kernel" sends and collect packets Tincan writes.</summary>
internal sealed class FakeNic(string name) : IVirtualInterface
{
    private readonly BlockingCollection<byte[]> _toRead = new(boundedCapacity: 10_000);
    private readonly BlockingCollection<byte[]> _written = new(boundedCapacity: 10_000);
    private long _discarded;

    public string Name { get; } = name;

    public VirtualInterfaceMode Mode => VirtualInterfaceMode.Tun;

    public int Mtu => 1420;

    public int Index => 1;

    public PhysicalAddress? MacAddress => null;

    public int WrittenCount => _written.Count;

    /// <summary>When set, writes are only counted (no copy), so allocation tests measure Tincan alone.</summary>
    public bool DiscardWrites { get; set; }

    public long DiscardedCount => Interlocked.Read(ref _discarded);

    /// <summary>A packet the kernel would hand to the VPN.</summary>
    public void Inject(byte[] packet) => _toRead.Add(packet);

    /// <summary>Waits (bounded) for the next packet Tincan delivered to this interface.</summary>
    public byte[]? TakeWritten(TimeSpan timeout) => _written.TryTake(out byte[]? p, timeout) ? p : null;

    public int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        byte[] packet = _toRead.Take(cancellationToken);
        packet.CopyTo(buffer);
        return packet.Length;
    }

    public bool Write(ReadOnlySpan<byte> packet)
    {
        if (DiscardWrites)
        {
            Interlocked.Increment(ref _discarded);
            return true;
        }

        _written.Add(packet.ToArray());
        return true;
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
        _toRead.Dispose();
        _written.Dispose();
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
