using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// Finds the addresses that flood us with initiations that carry no cookie (no mac2), for <see cref="FloodSocketFilter"/>:
/// an address whose unproven initiations reach <see cref="BlockPerSecond"/> within one second is listed, and it stays
/// listed while the sample the filter lets through still shows that rate. A fixed table, no allocation per message;
/// thread-safe (the receive thread counts, the control loop's tick also ends quiet windows).
/// </summary>
/// <remarks>
/// 1,000 a second is 200 times what a retransmitting peer sends (and the cookie replies stop at 5 a second per address
/// anyway), so a listed address is a flooder. A peer that shares a flooder's address (behind one NAT) loses little:
/// without the filter the flood would spend that address's cookie replies before it got one. At most
/// <see cref="FloodSocketFilter.MaxAddresses"/> addresses are listed; a flood from more addresses than that still
/// costs the receive thread a hash lookup per message for the rest (HandshakeGate).
/// </remarks>
internal sealed class FloodingSources(TimeProvider time)
{
    /// <summary>Unproven initiations per second from one address that list it.</summary>
    public const int BlockPerSecond = 1000;

    private const int Tracked = 32;
    private readonly Entry[] _entries = new Entry[Tracked];
    private readonly long _second = time.TimestampFrequency;
    private readonly Lock _lock = new();
    private volatile int _listed;

    /// <summary>How many addresses are listed now.</summary>
    public int Listed => _listed;

    /// <summary>
    /// Counts one initiation from <paramref name="from"/> that carried no mac2.
    /// True when the list changed (the caller rebuilds the filter).
    /// </summary>
    public bool Observe(SocketAddress from)
    {
        (ulong high, ulong low) = Key(from);
        long now = time.GetTimestamp();
        lock (_lock)
        {
            return Observe(high, low, now);
        }
    }

    /// <summary>
    /// Ends the windows that are over, also for addresses that went quiet (a listed address whose flood stopped sends
    /// no sample to end it). True when the list changed.
    /// </summary>
    public bool Sweep()
    {
        if (_listed == 0)
        {
            return false;
        }

        long now = time.GetTimestamp();
        lock (_lock)
        {
            return SweepLocked(now);
        }
    }

    /// <summary>The listed addresses, for the filter (allocates; only when the list changed).</summary>
    public IReadOnlyList<IPAddress> Addresses()
    {
        var list = new List<IPAddress>();
        lock (_lock)
        {
            foreach (Entry e in _entries)
            {
                if (e.InUse && e.Listed)
                {
                    list.Add(ToAddress(e.High, e.Low));
                }
            }
        }

        return list;
    }

    private bool Observe(ulong high, ulong low, long now)
    {
        bool changed = SweepLocked(now);
        int free = -1;
        int oldest = -1;
        for (int i = 0; i < Tracked; i++)
        {
            ref Entry e = ref _entries[i];
            if (e.InUse && e.High == high && e.Low == low)
            {
                return Count(ref e, now) | changed;
            }

            if (!e.InUse)
            {
                free = free < 0 ? i : free;
            }
            else if (!e.Listed && (oldest < 0 || e.WindowStart < _entries[oldest].WindowStart))
            {
                oldest = i;
            }
        }

        int slot = free >= 0 ? free : oldest;
        if (slot < 0)
        {
            // Every slot holds a listed flooder: this address is left to the user-space checks.
            return changed;
        }

        _entries[slot] = new Entry { InUse = true, High = high, Low = low, WindowStart = now, Count = 0 };
        return Count(ref _entries[slot], now) | changed;
    }

    private bool SweepLocked(long now)
    {
        if (_listed == 0)
        {
            return false;
        }

        bool changed = false;
        for (int i = 0; i < Tracked; i++)
        {
            ref Entry e = ref _entries[i];
            if (e.InUse && e.Listed && now - e.WindowStart >= 2 * _second)
            {
                // Not one sample for a whole second: far below the rate.
                e = default;
                _listed--;
                changed = true;
            }
        }

        return changed;
    }

    private bool Count(ref Entry e, long now)
    {
        bool changed = false;
        if (now - e.WindowStart >= _second)
        {
            if (e.Listed && (long)e.Count * FloodSocketFilter.SampleOneIn < BlockPerSecond)
            {
                e.Listed = false;
                _listed--;
                changed = true;
            }

            e.WindowStart = now;
            e.Count = 0;
        }

        e.Count++;
        if (!e.Listed && e.Count >= BlockPerSecond && _listed < FloodSocketFilter.MaxAddresses)
        {
            e.Listed = true;
            _listed++;
            changed = true;
        }

        return changed;
    }

    // An IPv4 address (also IPv4-mapped in a dual-stack socket's sockaddr_in6) keys as (0, address); IPv6 as its two halves.
    private static (ulong High, ulong Low) Key(SocketAddress from)
    {
        ReadOnlySpan<byte> b = from.Buffer.Span;
        if (from.Family == AddressFamily.InterNetworkV6 && from.Size >= 24)
        {
            ulong high = BinaryPrimitives.ReadUInt64BigEndian(b[8..]);
            ulong low = BinaryPrimitives.ReadUInt64BigEndian(b[16..]);
            return high == 0 && (low >> 32) == 0xFFFF ? (0, low & 0xFFFF_FFFF) : (high, low);
        }

        return (0, from.Size >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(b[4..]) : 0);
    }

    private static IPAddress ToAddress(ulong high, ulong low)
    {
        if (high == 0 && (low >> 32) == 0)
        {
            return new IPAddress(BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((uint)low) : (uint)low);
        }

        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, high);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], low);
        return new IPAddress(bytes);
    }

    private struct Entry
    {
        public bool InUse;
        public bool Listed;
        public ulong High;
        public ulong Low;
        public long WindowStart;
        public int Count;
    }
}
