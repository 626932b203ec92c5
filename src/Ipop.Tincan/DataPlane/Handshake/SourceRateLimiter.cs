using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// A token bucket per source IP address (wireguard-go's ratelimiter: 20 per second with a burst of 5), for
/// handshake initiations that proved their address with a cookie, and for the cookie replies themselves.
/// </summary>
/// <remarks>
/// The table is a fixed array indexed by a per-process randomized hash of the address, so it is bounded without a
/// cleanup pass and allocates nothing per packet: an address whose slot another address took starts again with a
/// full bucket. That fails open for the evicted address, which is the right way round: an attacker who makes many
/// addresses collide (it cannot aim, the hash seed is random) earns at most one burst per eviction, while a table that
/// refused new addresses when full would let it lock legitimate peers out. Striped locks make it safe for several
/// receive threads.
/// </remarks>
internal sealed class SourceRateLimiter
{
    private const int Slots = 4096;
    private const int Stripes = 64;
    private readonly Entry[] _entries = new Entry[Slots];
    private readonly Lock[] _locks = new Lock[Stripes];
    private readonly TimeProvider _time;
    private readonly long _cost;
    private readonly long _maxTokens;

    public SourceRateLimiter(TimeProvider time, int perSecond, int burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        _time = time;
        _cost = time.TimestampFrequency / perSecond;
        _maxTokens = _cost * burst;
        for (int i = 0; i < Stripes; i++)
        {
            _locks[i] = new Lock();
        }
    }

    /// <summary>Takes a token from the bucket of <paramref name="source"/>'s IP address (the port is ignored); false when it is empty.</summary>
    public bool Allow(SocketAddress source)
    {
        (ulong high, ulong low) = Key(source);
        int slot = HashCode.Combine(high, low) & (Slots - 1);
        long now = _time.GetTimestamp();
        lock (_locks[slot & (Stripes - 1)])
        {
            ref Entry entry = ref _entries[slot];
            if (!entry.InUse || entry.High != high || entry.Low != low)
            {
                entry = new Entry { InUse = true, High = high, Low = low, LastTime = now, Tokens = _maxTokens - _cost };
                return true;
            }

            entry.Tokens = Math.Min(_maxTokens, entry.Tokens + Math.Max(0, now - entry.LastTime));
            entry.LastTime = now;
            if (entry.Tokens < _cost)
            {
                return false;
            }

            entry.Tokens -= _cost;
            return true;
        }
    }

    // The IP address bytes of a sockaddr_in (offset 4, 4 bytes) or sockaddr_in6 (offset 8, 16 bytes), tagged by family.
    private static (ulong High, ulong Low) Key(SocketAddress source)
    {
        ReadOnlySpan<byte> buffer = source.Buffer.Span;
        if (source.Family == AddressFamily.InterNetworkV6 && source.Size >= 24)
        {
            return (BinaryPrimitives.ReadUInt64LittleEndian(buffer[8..]), BinaryPrimitives.ReadUInt64LittleEndian(buffer[16..]));
        }

        return (1UL << 63, source.Size >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(buffer[4..]) : 0);
    }

    private struct Entry
    {
        public bool InUse;
        public ulong High;
        public ulong Low;
        public long LastTime;
        public long Tokens;
    }
}
