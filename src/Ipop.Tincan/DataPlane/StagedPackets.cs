namespace Ipop.Tincan.DataPlane;

/// <summary>
/// A few packets held while a link has no session yet (first handshake, or after its session expired), sent as
/// soon as the handshake completes, as WireGuard does: without it the first ping or TCP SYN on a new link is lost.
/// Slots are allocated on first use and reused; the oldest packet gives way when full.
/// </summary>
internal sealed class StagedPackets
{
    public const int Capacity = 16;

    private readonly Lock _gate = new();
    private readonly byte[][] _slots;
    private readonly int[] _lengths = new int[Capacity];
    private int _start;
    private int _count;

    public StagedPackets(int maxPayload)
    {
        _slots = new byte[Capacity][];
        for (int i = 0; i < Capacity; i++)
        {
            _slots[i] = GC.AllocateUninitializedArray<byte>(maxPayload);
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Keeps a copy of <paramref name="packet"/>.</summary>
    /// <returns><c>false</c> if an older packet had to be dropped to make room.</returns>
    public bool Add(ReadOnlySpan<byte> packet)
    {
        lock (_gate)
        {
            bool displaced = false;
            if (_count == Capacity)
            {
                _start = (_start + 1) % Capacity;
                _count--;
                displaced = true;
            }

            int slot = (_start + _count) % Capacity;
            packet.CopyTo(_slots[slot]);
            _lengths[slot] = packet.Length;
            _count++;
            return !displaced;
        }
    }

    /// <summary>Copies the oldest packet into <paramref name="destination"/> and forgets it.</summary>
    public bool TryTake(Span<byte> destination, out int length)
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                length = 0;
                return false;
            }

            length = _lengths[_start];
            _slots[_start].AsSpan(0, length).CopyTo(destination);
            _start = (_start + 1) % Capacity;
            _count--;
            return true;
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _start = 0;
            _count = 0;
        }
    }
}
