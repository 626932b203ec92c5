using System.Buffers.Binary;

namespace Ipop.Tincan.Protocol;

/// <summary>
/// The 12-byte shim in front of an Ethernet frame that crosses members (<see cref="ContentKind.ForwardedFrame"/>):
/// hops left (1 byte), flags (1 byte, bit 0: bounded flood, bit 1: backfill, the copy's range starts at its sender, not
/// at its receiver), 2 reserved zero bytes, and the flood's bound (8 bytes, big-endian ring position; 0 for unicast).
/// Frames carry no hop limit of their own, so the shim supplies one, and a flood copy carries the end of the ring range
/// it still has to cover (<see cref="BoundedFlood"/>).
/// </summary>
/// <remarks>
/// Parsing is strict, as for the transport header: unknown flag bits, non-zero reserved bytes, a unicast with a bound
/// or the backfill flag, or a copy with no hops left are malformed, so a later revision that needs them must take a new content kind.
/// <code>
///  0        1        2        4                                  12
///  +--------+--------+--------+----------------------------------+----------------
///  | hops   | flags  | 0 0    | bound (ring position, BE)        | Ethernet frame
///  +--------+--------+--------+----------------------------------+----------------
/// </code>
/// </remarks>
internal static class ForwardedFrameHeader
{
    /// <summary>Bytes of the shim in front of the frame.</summary>
    public const int Length = 12;

    /// <summary>
    /// Hops a frame may take from the member that sent it into the overlay. A flood over ring successors plus
    /// Symphony long links (about log2 N per member) goes about log2 N deep (14 for 1,000 members in the tests'
    /// simulation); a ring with only k successors and predecessors goes about N / k deep (a copy advances k members
    /// per hop), so 32 covers such a ring up to 64 members at k = 2, and the structured topology adds long links well
    /// before that.
    /// </summary>
    public const byte HopLimit = 32;

    /// <summary>Flag bit 0: a bounded flood copy (broadcast, multicast, unknown unicast).</summary>
    private const byte FloodFlag = 1;

    /// <summary>Flag bit 1, on a flood copy only: its range starts at the member that sent it (<see cref="BoundedFlood"/>, backfill).</summary>
    private const byte BackfillFlag = 2;

    /// <summary>Writes the shim into the first <see cref="Length"/> bytes of <paramref name="destination"/>.</summary>
    public static void Write(Span<byte> destination, byte hops, bool flood, ulong bound)
    {
        destination[0] = hops;
        destination[1] = flood ? FloodFlag : (byte)0;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(destination[4..], flood ? bound : 0);
    }

    /// <summary>Rewrites the bound of a flood copy in place (one shim, several copies), with its backfill flag.</summary>
    public static void WriteBound(Span<byte> shim, ulong bound, bool backfill = false)
    {
        shim[1] = backfill ? (byte)(FloodFlag | BackfillFlag) : FloodFlag;
        BinaryPrimitives.WriteUInt64BigEndian(shim[4..], bound);
    }

    /// <summary>Parses the shim of <paramref name="payload"/>; <c>false</c> when it is malformed.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out byte hops, out bool flood, out ulong bound) =>
        TryRead(payload, out hops, out flood, out bound, out _);

    /// <summary>Parses the shim of <paramref name="payload"/>, with the backfill flag; <c>false</c> when it is malformed.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out byte hops, out bool flood, out ulong bound, out bool backfill)
    {
        hops = 0;
        flood = false;
        bound = 0;
        backfill = false;
        if (payload.Length < Length || payload[0] == 0 || (payload[1] & ~(FloodFlag | BackfillFlag)) != 0 || payload[2] != 0 || payload[3] != 0)
        {
            return false;
        }

        flood = (payload[1] & FloodFlag) != 0;
        bound = BinaryPrimitives.ReadUInt64BigEndian(payload[4..]);
        if (!flood && (bound != 0 || payload[1] != 0))
        {
            flood = false;
            bound = 0;
            return false;
        }

        backfill = (payload[1] & BackfillFlag) != 0;
        hops = payload[0];
        return true;
    }
}
