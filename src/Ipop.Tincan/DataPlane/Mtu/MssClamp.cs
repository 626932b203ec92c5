using System.Buffers.Binary;

namespace Ipop.Tincan.DataPlane.Mtu;

/// <summary>
/// Lowers the MSS option of a TCP SYN or SYN-ACK so that neither end sends segments larger than a link's path
/// carries (what routers call MSS clamping): TCP then works across a smaller path without any ICMP at all.
/// </summary>
/// <remarks>
/// The checksum is updated incrementally (RFC 1624 equation 3), which is exact because the TCP checksum is complete
/// wherever this runs: the TUN reader finishes a NEEDS_CSUM partial checksum (virtio-net offload) before routing
/// sees the packet, and packets from a link left their sender complete. A SYN is never a TSO super-packet. Only TCP
/// straight after the IP header is clamped (IPv6 extension headers and IPv4 fragments are left alone: rare on a SYN).
/// </remarks>
internal static class MssClamp
{
    private const byte ProtocolTcp = 6;
    private const byte TcpSyn = 0x02;
    private const byte OptionEnd = 0;
    private const byte OptionNop = 1;
    private const byte OptionMss = 2;

    /// <summary>
    /// Clamps the MSS of <paramref name="ip"/> (an IPv4 or IPv6 packet) to fit a path that carries IP packets of up
    /// to <paramref name="mtu"/> bytes: <paramref name="mtu"/> − 40 for IPv4, − 60 for IPv6.
    /// </summary>
    /// <returns><c>true</c> if the packet was changed.</returns>
    public static bool Apply(Span<byte> ip, int mtu)
    {
        if (ip.Length < 20)
        {
            return false;
        }

        int version = ip[0] >> 4;
        int l4;
        int maxMss;
        if (version == 4)
        {
            l4 = (ip[0] & 0x0F) * 4;
            bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF) == 0;
            if (ip[9] != ProtocolTcp || l4 < 20 || !firstFragment)
            {
                return false;
            }

            maxMss = mtu - 40;
        }
        else if (version == 6 && ip.Length >= 40 && ip[6] == ProtocolTcp)
        {
            l4 = 40;
            maxMss = mtu - 60;
        }
        else
        {
            return false;
        }

        if (ip.Length < l4 + 20 || (ip[l4 + 13] & TcpSyn) == 0 || maxMss <= 0)
        {
            return false;
        }

        Span<byte> tcp = ip[l4..];
        int dataOffset = (tcp[12] >> 4) * 4;
        if (dataOffset < 20 || dataOffset > tcp.Length)
        {
            return false;
        }

        for (int i = 20; i < dataOffset;)
        {
            byte kind = tcp[i];
            if (kind == OptionEnd)
            {
                break;
            }

            if (kind == OptionNop)
            {
                i++;
                continue;
            }

            if (i + 1 >= dataOffset)
            {
                break;
            }

            int length = tcp[i + 1];
            if (length < 2 || i + length > dataOffset)
            {
                break;
            }

            if (kind == OptionMss && length == 4)
            {
                ushort mss = BinaryPrimitives.ReadUInt16BigEndian(tcp[(i + 2)..]);
                if (mss <= maxMss)
                {
                    return false;
                }

                BinaryPrimitives.WriteUInt16BigEndian(tcp[(i + 2)..], (ushort)maxMss);
                ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]);
                BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], UpdateChecksum(checksum, mss, (ushort)maxMss));
                return true;
            }

            i += length;
        }

        return false;
    }

    /// <summary>RFC 1624 equation 3: HC' = ~(~HC + ~m + m'), in ones' complement arithmetic.</summary>
    internal static ushort UpdateChecksum(ushort checksum, ushort oldValue, ushort newValue)
    {
        uint sum = (uint)(~checksum & 0xFFFF) + (uint)(~oldValue & 0xFFFF) + newValue;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
