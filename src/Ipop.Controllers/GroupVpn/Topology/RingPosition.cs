using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ipop.Controllers.GroupVpn.Topology;

/// <summary>
/// A member's place on the structured overlay's ring: the first 64 bits of SHA-256 of its node id, so every member
/// computes the same ring from the same member list and nobody can pick its own position (it would have to choose a
/// node id, which is its key). Distances are measured in the 2^64 ring with wrap-around.
/// </summary>
internal static class RingPosition
{
    /// <summary>The position of <paramref name="nodeId"/>.</summary>
    public static ulong Of(string nodeId)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        int max = Encoding.UTF8.GetMaxByteCount(nodeId.Length);
        byte[]? rented = max > 256 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[256];
        try
        {
            int length = Encoding.UTF8.GetBytes(nodeId, utf8);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(utf8[..length], hash);
            return BinaryPrimitives.ReadUInt64BigEndian(hash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>How far <paramref name="to"/> lies clockwise from <paramref name="from"/> (wrapping).</summary>
    public static ulong Clockwise(ulong from, ulong to) => unchecked(to - from);

    /// <summary>The shorter way round between two positions, clockwise or counter-clockwise.</summary>
    public static ulong Distance(ulong a, ulong b)
    {
        ulong cw = unchecked(b - a);
        ulong ccw = unchecked(a - b);
        return Math.Min(cw, ccw);
    }
}
