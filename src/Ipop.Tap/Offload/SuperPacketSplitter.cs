using System.Buffers.Binary;

namespace Ipop.Tap.Offload;

/// <summary>
/// Turns one frame read from a device with TUN_F_CSUM/TSO/USO into the packets a wire carries: it finishes a
/// partial checksum, and cuts a TCP (TSO) or UDP (USO) super-packet into gso_size segments, each a complete
/// packet with its own lengths, IPv4 id and header checksum, TCP sequence number and flags, and L4 checksum.
/// </summary>
/// <remarks>
/// The same work the kernel's skb_segment/tcp_gso_segment would do for a NIC without TSO (net/ipv4/tcp_offload.c):
/// FIN and PSH belong to the last segment, CWR to the first. Pure functions on spans, so tests drive them directly.
/// </remarks>
internal static class SuperPacketSplitter
{
    private const byte ProtocolTcp = 6;
    private const byte ProtocolUdp = 17;
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;

    /// <summary>
    /// Checks the frame against its header and says how to cut it. For a GSO_NONE frame whose checksum is partial,
    /// finishes that checksum in place.
    /// </summary>
    /// <param name="frame">The frame after the virtio_net_hdr.</param>
    /// <param name="header">The frame's virtio_net_hdr.</param>
    /// <param name="l3Offset">0 for TUN, 14 (the Ethernet header) for TAP.</param>
    /// <param name="usoEnabled">Whether UDP_L4 segmentation was negotiated.</param>
    /// <param name="plan">How to cut the frame, when it is not dropped.</param>
    public static OffloadDropReason Prepare(Span<byte> frame, in VirtioNetHeader header, int l3Offset, bool usoEnabled, out SegmentationPlan plan)
    {
        plan = default;
        byte gsoType = (byte)(header.GsoType & ~VirtioNetHeader.GsoEcn);
        if (gsoType == VirtioNetHeader.GsoNone)
        {
            if ((header.Flags & VirtioNetHeader.FlagNeedsChecksum) != 0)
            {
                OffloadDropReason reason = FinishChecksum(frame, header.ChecksumStart, header.ChecksumOffset);
                if (reason != OffloadDropReason.None)
                {
                    return reason;
                }
            }

            plan = new SegmentationPlan { L3Offset = l3Offset, PayloadLength = frame.Length, SegmentCount = 1 };
            return OffloadDropReason.None;
        }

        bool isUdp = gsoType == VirtioNetHeader.GsoUdpL4;
        if (gsoType != VirtioNetHeader.GsoTcpV4 && gsoType != VirtioNetHeader.GsoTcpV6 && !(isUdp && usoEnabled))
        {
            return OffloadDropReason.UnsupportedGsoType;
        }

        if (header.GsoSize == 0)
        {
            return OffloadDropReason.GsoSizeZero;
        }

        if ((header.Flags & VirtioNetHeader.FlagNeedsChecksum) != 0 && header.ChecksumStart + header.ChecksumOffset + 2 > frame.Length)
        {
            return OffloadDropReason.ChecksumOffsetOutOfRange;
        }

        if (l3Offset > 0)
        {
            if (frame.Length < l3Offset)
            {
                return OffloadDropReason.NotIp;
            }

            ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3Offset - 2)..]);
            if (etherType != 0x0800 && etherType != 0x86DD)
            {
                return OffloadDropReason.NotIp;
            }
        }

        ReadOnlySpan<byte> ip = frame[l3Offset..];
        if (ip.Length < 20)
        {
            return OffloadDropReason.IpHeaderInvalid;
        }

        int version = ip[0] >> 4;
        bool isV6 = version == 6;
        if ((version != 4 && !isV6)
            || (gsoType == VirtioNetHeader.GsoTcpV4 && isV6)
            || (gsoType == VirtioNetHeader.GsoTcpV6 && !isV6))
        {
            return OffloadDropReason.IpHeaderInvalid;
        }

        int ipHeaderLength;
        byte protocol;
        if (isV6)
        {
            if (ip.Length < 40)
            {
                return OffloadDropReason.IpHeaderInvalid;
            }

            ipHeaderLength = 40;
            if (BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) + 40 != ip.Length)
            {
                return OffloadDropReason.IpLengthMismatch;
            }

            protocol = ip[6];
            if (protocol != ProtocolTcp && protocol != ProtocolUdp && IsIpv6ExtensionHeader(protocol))
            {
                return OffloadDropReason.Ipv6ExtensionHeader;
            }
        }
        else
        {
            ipHeaderLength = (ip[0] & 0xF) * 4;
            if (ipHeaderLength < 20 || ipHeaderLength > ip.Length)
            {
                return OffloadDropReason.IpHeaderInvalid;
            }

            if (BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) != ip.Length)
            {
                return OffloadDropReason.IpLengthMismatch;
            }

            // MF set or a non-zero fragment offset: a fragment cannot be segmented.
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0)
            {
                return OffloadDropReason.Ipv4Fragment;
            }

            protocol = ip[9];
        }

        if (protocol != (isUdp ? ProtocolUdp : ProtocolTcp))
        {
            return OffloadDropReason.ProtocolMismatch;
        }

        int l4HeaderLength = 8;
        if (!isUdp)
        {
            if (ip.Length < ipHeaderLength + 20)
            {
                return OffloadDropReason.L4HeaderInvalid;
            }

            l4HeaderLength = (ip[ipHeaderLength + 12] >> 4) * 4;
        }

        if (l4HeaderLength < (isUdp ? 8 : 20) || ipHeaderLength + l4HeaderLength > ip.Length)
        {
            return OffloadDropReason.L4HeaderInvalid;
        }

        int payload = ip.Length - ipHeaderLength - l4HeaderLength;
        int segmentSize = header.GsoSize;
        plan = new SegmentationPlan
        {
            L3Offset = l3Offset,
            GsoType = gsoType,
            IsV6 = isV6,
            IpHeaderLength = ipHeaderLength,
            L4HeaderLength = l4HeaderLength,
            PayloadLength = payload,
            SegmentSize = segmentSize,
            SegmentCount = payload == 0 ? 1 : (payload + segmentSize - 1) / segmentSize,
        };
        return OffloadDropReason.None;
    }

    /// <summary>Writes segment <paramref name="index"/> of a prepared frame into <paramref name="destination"/>.</summary>
    /// <returns>The segment's length in bytes.</returns>
    public static int WriteSegment(ReadOnlySpan<byte> frame, in SegmentationPlan plan, int index, Span<byte> destination)
    {
        if (plan.GsoType == VirtioNetHeader.GsoNone)
        {
            frame.CopyTo(destination);
            return frame.Length;
        }

        int headerLength = plan.HeaderLength;
        int offset = index * plan.SegmentSize;
        int segmentPayload = Math.Min(plan.SegmentSize, plan.PayloadLength - offset);
        int total = headerLength + segmentPayload;
        frame[..headerLength].CopyTo(destination);
        frame.Slice(headerLength + offset, segmentPayload).CopyTo(destination[headerLength..]);

        Span<byte> ip = destination[plan.L3Offset..total];
        int l4Length = plan.L4HeaderLength + segmentPayload;
        if (plan.IsV6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ip.Length);
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(id + index));
            ip[10] = 0;
            ip[11] = 0;
            ushort headerChecksum = (ushort)~InternetChecksum.Fold(InternetChecksum.Add(ip[..plan.IpHeaderLength], 0));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], headerChecksum);
        }

        Span<byte> l4 = ip[plan.IpHeaderLength..];
        byte protocol;
        int checksumOffset;
        if (plan.GsoType == VirtioNetHeader.GsoUdpL4)
        {
            protocol = ProtocolUdp;
            checksumOffset = 6;
            BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)l4Length);
        }
        else
        {
            protocol = ProtocolTcp;
            checksumOffset = 16;
            uint sequence = BinaryPrimitives.ReadUInt32BigEndian(l4[4..]);
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], unchecked(sequence + (uint)offset));
            if (index != plan.SegmentCount - 1)
            {
                l4[13] &= unchecked((byte)~(TcpFin | TcpPsh));
            }

            if (index != 0)
            {
                l4[13] &= unchecked((byte)~TcpCwr);
            }
        }

        l4[checksumOffset] = 0;
        l4[checksumOffset + 1] = 0;
        ulong sum = InternetChecksum.PseudoHeader(ip, plan.IsV6, protocol, l4Length);
        ushort checksum = (ushort)~InternetChecksum.Fold(InternetChecksum.Add(l4, sum));
        if (checksum == 0 && protocol == ProtocolUdp)
        {
            // RFC 768: a computed 0 is sent as all ones; 0 would mean "no checksum".
            checksum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], checksum);
        return total;
    }

    /// <summary>
    /// Finishes a CHECKSUM_PARTIAL packet the way skb_checksum_help does: the field already holds the pseudo-header
    /// sum, so the checksum is the complement of the sum from csum_start to the end.
    /// </summary>
    public static OffloadDropReason FinishChecksum(Span<byte> frame, int checksumStart, int checksumOffset)
    {
        if (checksumStart >= frame.Length || checksumStart + checksumOffset + 2 > frame.Length)
        {
            return OffloadDropReason.ChecksumOffsetOutOfRange;
        }

        ushort checksum = (ushort)~InternetChecksum.Fold(InternetChecksum.Add(frame[checksumStart..], 0));
        BinaryPrimitives.WriteUInt16BigEndian(frame[(checksumStart + checksumOffset)..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return OffloadDropReason.None;
    }

    private static bool IsIpv6ExtensionHeader(byte nextHeader) =>
        nextHeader is 0 or 43 or 44 or 50 or 51 or 60 or 135 or 139 or 140 or 253 or 254;
}
