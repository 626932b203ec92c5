using System.Buffers.Binary;

namespace Ipop.Tap.Offload;

/// <summary>The RFC 1071 one's-complement sum that IPv4, TCP and UDP checksums are built from.</summary>
internal static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> (as big-endian 16-bit words, an odd last byte padded with zero) to <paramref name="sum"/>, unfolded.</summary>
    public static ulong Add(ReadOnlySpan<byte> data, ulong sum)
    {
        // 32-bit words into a 64-bit accumulator: one's-complement addition is associative, so folding at the end
        // gives the same 16-bit result with half the loop iterations.
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        }

        if (i + 2 <= data.Length)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            i += 2;
        }

        if (i < data.Length)
        {
            sum += (ulong)data[i] << 8;
        }

        return sum;
    }

    /// <summary>Folds an accumulated sum into 16 bits (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>The pseudo-header sum (RFC 793 / RFC 8200 section 8.1): addresses, protocol and L4 length, unfolded.</summary>
    /// <param name="packet">The IP packet, starting at its IP header.</param>
    /// <param name="isV6">IPv6 (addresses at 8..40) or IPv4 (12..20).</param>
    /// <param name="protocol">6 for TCP, 17 for UDP.</param>
    /// <param name="l4Length">The L4 header and payload length.</param>
    public static ulong PseudoHeader(ReadOnlySpan<byte> packet, bool isV6, byte protocol, int l4Length)
    {
        ReadOnlySpan<byte> addresses = isV6 ? packet.Slice(8, 32) : packet.Slice(12, 8);
        return Add(addresses, (ulong)protocol + (uint)l4Length);
    }
}
