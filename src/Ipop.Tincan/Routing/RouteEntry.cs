using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan;

/// <summary>
/// One prefix of a <see cref="RouteTable"/> with what it routes to. Immutable but for its packet counter, so snapshots
/// share entries and a count survives every write that keeps the entry.
/// </summary>
/// <remarks>
/// An address is two 64-bit halves for both families (IPv4 in the low half, the high half 0), so one match serves both:
/// <c>(hi &amp; MaskHi) == NetworkHi &amp;&amp; (lo &amp; MaskLo) == NetworkLo</c>.
/// </remarks>
internal sealed class RouteEntry
{
    /// <summary>Packets routed out through this entry (counted for forwarding routes only).</summary>
    public long OutboundPackets;

    public RouteEntry(IPNetwork prefix, ITincanLink? link, RouteEntryKind kind, long sequence)
    {
        Prefix = prefix;
        Link = link;
        Kind = kind;
        Sequence = sequence;
        bool v4 = ReadAddress(prefix.BaseAddress, out ulong hi, out ulong lo);
        int len = prefix.PrefixLength;
        if (v4)
        {
            MaskLo = len == 0 ? 0 : uint.MaxValue << (32 - len);
        }
        else
        {
            MaskHi = len == 0 ? 0 : len >= 64 ? ulong.MaxValue : ulong.MaxValue << (64 - len);
            MaskLo = len <= 64 ? 0 : len == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - len);
        }

        NetworkHi = hi & MaskHi;
        NetworkLo = lo & MaskLo;
    }

    public IPNetwork Prefix { get; }

    /// <summary>The link (the next hop for a forwarding route), or <c>null</c> for an unreachable or local prefix.</summary>
    public ITincanLink? Link { get; }

    public RouteEntryKind Kind { get; }

    /// <summary>When the entry was set, table-wide: among prefixes of one length the older comes first, as it always did.</summary>
    public long Sequence { get; }

    public ulong MaskHi { get; }

    public ulong MaskLo { get; }

    public ulong NetworkHi { get; }

    public ulong NetworkLo { get; }

    /// <summary>Reads <paramref name="address"/> as two 64-bit halves (an IPv4 address in the low half).</summary>
    /// <returns><c>true</c> for an IPv4 address (an IPv4-mapped IPv6 address is IPv6, as in a packet).</returns>
    public static bool ReadAddress(IPAddress address, out ulong hi, out ulong lo)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        if (written == 4)
        {
            hi = 0;
            lo = BinaryPrimitives.ReadUInt32BigEndian(bytes);
            return true;
        }

        hi = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        lo = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        return false;
    }
}
