using System.Buffers.Binary;

namespace Ipop.Tincan;

/// <summary>
/// The IPv4 TTL (RFC 791) and IPv6 hop limit (RFC 8200 section 3) of a packet a node forwards between links: read,
/// and decremented in place with the IPv4 header checksum updated incrementally (RFC 1624), so a packet caught in a
/// routing loop dies after at most 255 hops instead of circling for ever.
/// </summary>
internal static class HopLimit
{
    /// <summary>The TTL or hop limit of an IPv4 or IPv6 packet, or -1 when it is neither (or shorter than its header).</summary>
    public static int Read(ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty)
        {
            return -1;
        }

        return (packet[0] >> 4) switch
        {
            4 when packet.Length >= 20 && (packet[0] & 0x0F) >= 5 => packet[8],
            6 when packet.Length >= 40 => packet[7],
            _ => -1,
        };
    }

    /// <summary>
    /// Decrements the TTL or hop limit of <paramref name="packet"/>, which <see cref="Read"/> found to be at least 2.
    /// </summary>
    public static void Decrement(Span<byte> packet)
    {
        if ((packet[0] >> 4) == 6)
        {
            packet[7]--;
            return;
        }

        // RFC 1624 equation 3, HC' = ~(~HC + ~m + m'), over the 16-bit word that holds TTL and protocol: unlike
        // RFC 1141's shortcut it never turns a checksum into the -0 (0xFFFF) a full computation cannot give.
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(packet[8..]);
        ushort updated = (ushort)(old - 0x0100);
        packet[8]--;
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        uint sum = (uint)(ushort)~checksum + (ushort)~old + updated;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], (ushort)~sum);
    }
}
