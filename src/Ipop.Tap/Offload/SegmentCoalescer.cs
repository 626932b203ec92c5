using System.Buffers.Binary;

namespace Ipop.Tap.Offload;

/// <summary>
/// Receive-side coalescing for a device with TSO negotiated: consecutive packets of one TCP flow in a batch become
/// one super-packet with a virtio_net_hdr (GSO_TCPV4/6, NEEDS_CSUM), so the kernel's stack handles one packet where
/// it would have handled many (the same contract as GRO, net/ipv4/tcp_offload.c tcp_gro_receive). With USO too,
/// consecutive datagrams of one UDP flow become one GSO_UDP_L4 super-packet (udp_gro_receive's rules: equal sizes,
/// the last may be shorter); the kernel cuts it back into the same datagrams for a socket without UDP_GRO.
/// </summary>
/// <remarks>
/// Only packets that GRO itself would merge qualify: same addresses, ports and IP version; every IP and TCP header
/// field equal except lengths, IPv4 id and checksums; contiguous sequence numbers; flags ACK (PSH allowed on the
/// last); equal payload sizes with only the last shorter; a valid L4 checksum (the kernel trusts NEEDS_CSUM, so a
/// corrupted segment must not hide inside a super-packet); at most 64 KiB. Everything else goes out alone, in order.
/// One instance per writer; not thread-safe; allocates nothing.
/// </remarks>
internal sealed class SegmentCoalescer
{
    /// <summary>The largest IP packet (IPv4 total length, or IPv6 header plus payload length, without jumbograms).</summary>
    public const int MaxIpLength = 65535;

    private const byte ProtocolTcp = 6;
    private const byte TcpAck = 0x10;
    private const byte TcpPsh = 0x08;

    private const byte ProtocolUdp = 17;

    private readonly int _l3Offset;
    private readonly bool _enabled;
    private readonly bool _udp;

    /// <param name="l3Offset">0 for TUN, 14 for TAP (an Ethernet header before IP).</param>
    /// <param name="enabled">False when TSO was not negotiated: every packet goes out alone with a GSO_NONE header.</param>
    /// <param name="udp">True when USO was negotiated too: UDP datagrams are coalesced as well.</param>
    public SegmentCoalescer(int l3Offset, bool enabled, bool udp = false)
    {
        _l3Offset = l3Offset;
        _enabled = enabled;
        _udp = enabled && udp;
    }

    /// <summary>The largest frame <see cref="Next"/> writes: the header, L2 and the largest IP packet.</summary>
    public int MaxFrameLength => VirtioNetHeader.Size + _l3Offset + MaxIpLength;

    /// <summary>Super-packets built (runs of two or more packets).</summary>
    public long Coalesced { get; private set; }

    /// <summary>Packets that went into super-packets.</summary>
    public long CoalescedPackets { get; private set; }

    /// <summary>
    /// Builds the next frame to write, starting at packet <paramref name="start"/> of <paramref name="packets"/>:
    /// a virtio_net_hdr followed by either that packet alone or a super-packet of it and the packets after it.
    /// </summary>
    /// <param name="packets">The batch being written.</param>
    /// <param name="start">The first packet not yet written.</param>
    /// <param name="buffer">Where the frame is built, at least <see cref="MaxFrameLength"/> bytes.</param>
    /// <param name="length">The frame's length in <paramref name="buffer"/>, or 0 if the packet is too large to frame (a drop).</param>
    /// <returns>How many input packets the frame holds (at least 1).</returns>
    public int Next(PacketBatch packets, int start, Span<byte> buffer, out int length)
    {
        ReadOnlySpan<byte> first = packets[start].Span;
        if (first.Length > buffer.Length - VirtioNetHeader.Size)
        {
            length = 0;
            return 1;
        }

        buffer[..VirtioNetHeader.Size].Clear();
        first.CopyTo(buffer[VirtioNetHeader.Size..]);
        length = VirtioNetHeader.Size + first.Length;
        if (!_enabled || !TryParse(first, out Segment head) || head.IpHeaderLength + head.L4HeaderLength + head.PayloadLength + head.PayloadLength > MaxIpLength)
        {
            return 1;
        }

        int count = 1;
        int ipLength = first.Length - _l3Offset;
        uint nextSequence = unchecked(head.Sequence + (uint)head.PayloadLength);
        bool closed = !head.IsUdp && (first[_l3Offset + head.IpHeaderLength + 13] & TcpPsh) != 0;
        bool psh = closed;
        while (!closed && start + count < packets.Count)
        {
            ReadOnlySpan<byte> next = packets[start + count].Span;
            if (!TryParse(next, out Segment segment)
                || segment.IsUdp != head.IsUdp
                || (!head.IsUdp && segment.Sequence != nextSequence)
                || segment.PayloadLength > head.PayloadLength
                || ipLength + segment.PayloadLength > MaxIpLength
                || !HeadersMatch(first, head, next, segment))
            {
                break;
            }

            int headerLength = _l3Offset + head.IpHeaderLength + head.L4HeaderLength;
            next.Slice(headerLength, segment.PayloadLength).CopyTo(buffer[length..]);
            length += segment.PayloadLength;
            ipLength += segment.PayloadLength;
            nextSequence = unchecked(nextSequence + (uint)segment.PayloadLength);
            count++;
            psh = !head.IsUdp && (next[_l3Offset + head.IpHeaderLength + 13] & TcpPsh) != 0;
            closed = psh || segment.PayloadLength < head.PayloadLength;
        }

        if (count > 1)
        {
            FinishSuperPacket(buffer[..length], head, ipLength, psh);
            Coalesced++;
            CoalescedPackets += count;
        }

        return count;
    }

    private void FinishSuperPacket(Span<byte> frame, in Segment head, int ipLength, bool psh)
    {
        Span<byte> ip = frame[(VirtioNetHeader.Size + _l3Offset)..];
        Span<byte> l4 = ip[head.IpHeaderLength..];
        if (head.IsV6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipLength - 40));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLength);
            ip[10] = 0;
            ip[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~InternetChecksum.Fold(InternetChecksum.Add(ip[..head.IpHeaderLength], 0)));
        }

        int l4Length = ipLength - head.IpHeaderLength;
        if (head.IsUdp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)l4Length);
        }
        else
        {
            // PSH belongs to the last segment merged; GRO keeps it on the super-packet the same way.
            l4[13] = psh ? (byte)(l4[13] | TcpPsh) : (byte)(l4[13] & ~TcpPsh);
        }

        // CHECKSUM_PARTIAL: the field holds the folded, uncomplemented pseudo-header sum and the kernel sums the rest.
        byte protocol = head.IsUdp ? ProtocolUdp : ProtocolTcp;
        int checksumOffset = head.IsUdp ? 6 : 16;
        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], InternetChecksum.Fold(InternetChecksum.PseudoHeader(ip, head.IsV6, protocol, l4Length)));

        byte gsoType = head.IsUdp ? VirtioNetHeader.GsoUdpL4 : head.IsV6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4;
        new VirtioNetHeader(
            VirtioNetHeader.FlagNeedsChecksum,
            gsoType,
            (ushort)(_l3Offset + head.IpHeaderLength + head.L4HeaderLength),
            (ushort)head.PayloadLength,
            (ushort)(_l3Offset + head.IpHeaderLength),
            (ushort)checksumOffset).Write(frame);
    }

    /// <summary>Is this a TCP data segment (or, with USO, a UDP datagram) that may be merged, and where are its parts?</summary>
    internal bool TryParse(ReadOnlySpan<byte> packet, out Segment segment)
    {
        segment = default;
        if (_l3Offset > 0)
        {
            if (packet.Length < _l3Offset)
            {
                return false;
            }

            ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(packet[(_l3Offset - 2)..]);
            if (etherType != 0x0800 && etherType != 0x86DD)
            {
                return false;
            }
        }

        ReadOnlySpan<byte> ip = packet[_l3Offset..];
        if (ip.Length < 40)
        {
            return false;
        }

        int version = ip[0] >> 4;
        int ipHeaderLength;
        if (version == 4)
        {
            ipHeaderLength = (ip[0] & 0xF) * 4;
            if (ipHeaderLength < 20
                || (ip[9] != ProtocolTcp && !(_udp && ip[9] == ProtocolUdp))
                || BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) != ip.Length
                || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0)
            {
                return false;
            }
        }
        else if (version == 6)
        {
            ipHeaderLength = 40;
            if ((ip[6] != ProtocolTcp && !(_udp && ip[6] == ProtocolUdp)) || BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) + 40 != ip.Length)
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        if (ip.Length < ipHeaderLength + 20)
        {
            return false;
        }

        bool isV6 = version == 6;
        if ((isV6 ? ip[6] : ip[9]) == ProtocolUdp)
        {
            return TryParseUdp(ip, isV6, ipHeaderLength, out segment);
        }

        ReadOnlySpan<byte> tcp = ip[ipHeaderLength..];
        int tcpHeaderLength = (tcp[12] >> 4) * 4;
        int payload = tcp.Length - tcpHeaderLength;

        // ACK or ACK|PSH only: SYN, FIN, RST, URG, ECE and CWR each change what a merged packet would mean.
        byte flags = tcp[13];
        if (tcpHeaderLength < 20 || payload <= 0 || (flags & ~TcpPsh) != TcpAck)
        {
            return false;
        }

        // The sum over a segment with a correct checksum, pseudo-header included, is all ones.
        ulong sum = InternetChecksum.PseudoHeader(ip, version == 6, ProtocolTcp, tcp.Length);
        if (InternetChecksum.Fold(InternetChecksum.Add(tcp, sum)) != 0xFFFF)
        {
            return false;
        }

        segment = new Segment(isV6, false, ipHeaderLength, tcpHeaderLength, payload, BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]));
        return true;
    }

    private static bool TryParseUdp(ReadOnlySpan<byte> ip, bool isV6, int ipHeaderLength, out Segment segment)
    {
        segment = default;
        ReadOnlySpan<byte> udp = ip[ipHeaderLength..];
        int payload = udp.Length - 8;

        // An IPv4 datagram sent without a checksum (0) cannot be given a partial one: it goes alone.
        if (BinaryPrimitives.ReadUInt16BigEndian(udp[4..]) != udp.Length || payload <= 0 || BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) == 0)
        {
            return false;
        }

        ulong sum = InternetChecksum.PseudoHeader(ip, isV6, ProtocolUdp, udp.Length);
        if (InternetChecksum.Fold(InternetChecksum.Add(udp, sum)) != 0xFFFF)
        {
            return false;
        }

        segment = new Segment(isV6, true, ipHeaderLength, 8, payload, 0);
        return true;
    }

    private bool HeadersMatch(ReadOnlySpan<byte> first, in Segment head, ReadOnlySpan<byte> next, in Segment segment)
    {
        if (segment.IsV6 != head.IsV6 || segment.IpHeaderLength != head.IpHeaderLength || segment.L4HeaderLength != head.L4HeaderLength)
        {
            return false;
        }

        if (!first[.._l3Offset].SequenceEqual(next[.._l3Offset]))
        {
            return false;
        }

        ReadOnlySpan<byte> a = first[_l3Offset..];
        ReadOnlySpan<byte> b = next[_l3Offset..];
        if (head.IsV6)
        {
            // Version, traffic class, flow label; then next header, hop limit and both addresses.
            if (!a[..4].SequenceEqual(b[..4]) || !a[6..40].SequenceEqual(b[6..40]))
            {
                return false;
            }
        }
        else
        {
            // Version/IHL/TOS; flags (DF), TTL, protocol; addresses and options. Not the length, id or checksum.
            if (!a[..2].SequenceEqual(b[..2]) || !a[6..10].SequenceEqual(b[6..10]) || !a[12..head.IpHeaderLength].SequenceEqual(b[12..head.IpHeaderLength]))
            {
                return false;
            }
        }

        ReadOnlySpan<byte> ta = a[head.IpHeaderLength..];
        ReadOnlySpan<byte> tb = b[head.IpHeaderLength..];
        if (head.IsUdp)
        {
            // Ports only: the length and checksum differ per datagram.
            return ta[..4].SequenceEqual(tb[..4]);
        }

        // Ports; ack number and data offset; flags apart from PSH; window; urgent pointer and options (timestamps
        // must be equal too, as in GRO). Not the sequence number (checked for contiguity) or the checksum.
        return ta[..4].SequenceEqual(tb[..4])
            && ta[8..13].SequenceEqual(tb[8..13])
            && (ta[13] & ~TcpPsh) == (tb[13] & ~TcpPsh)
            && ta[14..16].SequenceEqual(tb[14..16])
            && ta[18..head.L4HeaderLength].SequenceEqual(tb[18..head.L4HeaderLength]);
    }

    /// <summary>Where a TCP segment's or UDP datagram's parts are (no sequence number for UDP).</summary>
    internal readonly record struct Segment(bool IsV6, bool IsUdp, int IpHeaderLength, int L4HeaderLength, int PayloadLength, uint Sequence);
}
