using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ipop.Tincan.DataPlane.Udp;

/// <summary>
/// Datagrams to send with one <see cref="UdpMux.Send(DatagramBatch)"/> call, each with its destination, plus the
/// kernel structures (mmsghdr, iovec, names, UDP_SEGMENT control messages) that call fills in.
/// </summary>
/// <remarks>
/// <para>
/// Every datagram's memory must stay put while the batch holds it: back it by an array on the pinned object heap
/// (<c>GC.AllocateUninitializedArray&lt;byte&gt;(n, pinned: true)</c>), as the data plane's packet buffers are.
/// The send path takes raw pointers with <see cref="MemoryMarshal.GetReference{T}(Span{T})"/> instead of pinning
/// each datagram (no GCHandle, no <see cref="Memory{T}.Pin"/> per packet), which is only safe for pinned arrays.
/// </para>
/// <para>
/// A batch belongs to one thread at a time; it owns its kernel structures, so batches on different threads can be
/// sent concurrently through the same <see cref="UdpMux"/>. The destinations are held by reference: do not change a
/// <see cref="SocketAddress"/> while a batch holds it.
/// </para>
/// </remarks>
internal sealed unsafe class DatagramBatch
{
    private readonly Memory<byte>[] _datagrams;
    private readonly SocketAddress?[] _addresses;

    public DatagramBatch(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1024);
        Capacity = capacity;
        _datagrams = new Memory<byte>[capacity];
        _addresses = new SocketAddress?[capacity];

        // One message per datagram at most (GSO only merges), so every array is sized by the capacity. All live on
        // the pinned object heap: the kernel gets pointers into them.
        Messages = GC.AllocateArray<UdpInterop.MMsgHdr>(capacity, pinned: true);
        IoVecs = GC.AllocateArray<UdpInterop.IoVec>(capacity, pinned: true);
        Names = GC.AllocateArray<byte>(capacity * UdpInterop.SockAddrStorageSize, pinned: true);
        ControlSpace = UdpInterop.CmsgSpace(sizeof(ushort));
        Control = GC.AllocateArray<byte>(capacity * ControlSpace, pinned: true);
        FirstDatagram = new int[capacity];
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    internal UdpInterop.MMsgHdr[] Messages { get; }

    internal UdpInterop.IoVec[] IoVecs { get; }

    internal byte[] Names { get; }

    internal byte[] Control { get; }

    internal int ControlSpace { get; }

    /// <summary>The index of the first datagram of each message built by the last send.</summary>
    internal int[] FirstDatagram { get; }

    /// <summary>The <paramref name="i"/>th datagram.</summary>
    public Memory<byte> this[int i]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)Count, nameof(i));
            return _datagrams[i];
        }
    }

    /// <summary>Adds a datagram (memory on the pinned object heap, see the remarks) for <paramref name="to"/>.</summary>
    /// <exception cref="InvalidOperationException">The batch is full.</exception>
    public void Add(Memory<byte> datagram, SocketAddress to)
    {
        ArgumentNullException.ThrowIfNull(to);
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"The batch is full ({Capacity} datagrams); send it first.");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(datagram.Length, UdpMux.MaxDatagram, nameof(datagram));
        _datagrams[Count] = datagram;
        _addresses[Count] = to;
        Count++;
    }

    /// <summary>The destination of the <paramref name="i"/>th datagram.</summary>
    public SocketAddress AddressOf(int i)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)Count, nameof(i));
        return _addresses[i]!;
    }

    /// <summary>Forgets every datagram (the memory and addresses are not touched).</summary>
    public void Clear()
    {
        // Drop the references so a batch does not keep buffers or addresses of closed links alive.
        Array.Clear(_datagrams, 0, Count);
        Array.Clear(_addresses, 0, Count);
        Count = 0;
    }

    /// <summary>A pointer to the <paramref name="i"/>th datagram; valid because its array is pinned (see remarks).</summary>
    internal byte* PointerOf(int i) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(_datagrams[i].Span));

    internal int LengthOf(int i) => _datagrams[i].Length;
}
