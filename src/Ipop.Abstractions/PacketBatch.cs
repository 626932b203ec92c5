namespace Ipop;

/// <summary>
/// A reusable list of packets (or frames) in caller-owned memory, moved to or from a virtual interface in one call
/// (<see cref="IVirtualInterface.ReadBatch"/>, <see cref="IVirtualInterface.WriteBatch"/>).
/// </summary>
/// <remarks>
/// The batch holds slices, not copies: the memory stays the caller's and must stay valid (and, for the data
/// plane, pinned) until the call returns. Reusing one batch and one set of buffers keeps a packet loop free of
/// allocation. Not thread-safe; one batch belongs to one thread.
/// </remarks>
public sealed class PacketBatch
{
    private readonly Memory<byte>[] _packets;

    /// <summary>Creates an empty batch that holds up to <paramref name="capacity"/> packets.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public PacketBatch(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _packets = new Memory<byte>[capacity];
    }

    /// <summary>How many packets the batch can hold.</summary>
    public int Capacity => _packets.Length;

    /// <summary>How many packets (or, before a read, buffers) the batch holds.</summary>
    public int Count { get; private set; }

    /// <summary>True when <see cref="Count"/> has reached <see cref="Capacity"/>.</summary>
    public bool IsFull => Count == _packets.Length;

    /// <summary>The packet (or buffer) at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="Count"/>.</exception>
    public Memory<byte> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
            return _packets[index];
        }
    }

    /// <summary>Appends a packet to write, or a buffer to read into.</summary>
    /// <exception cref="InvalidOperationException">The batch is full.</exception>
    public void Add(Memory<byte> packet)
    {
        if (Count == _packets.Length)
        {
            throw new InvalidOperationException($"The batch is full ({_packets.Length} packets); write it or Clear it first.");
        }

        _packets[Count++] = packet;
    }

    /// <summary>
    /// Trims the entry at <paramref name="index"/> to its first <paramref name="length"/> bytes: a reader reports how
    /// much of a buffer one packet filled.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is not below <see cref="Count"/>, or the length does not fit the entry.</exception>
    public void SetLength(int index, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)_packets[index].Length, nameof(length));
        _packets[index] = _packets[index][..length];
    }

    /// <summary>Empties the batch (the memory it pointed to is untouched).</summary>
    public void Clear()
    {
        // Drop the references too, so a cleared batch does not keep buffers alive.
        Array.Clear(_packets, 0, Count);
        Count = 0;
    }
}
