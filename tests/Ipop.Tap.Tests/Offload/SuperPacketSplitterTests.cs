using System.Buffers.Binary;
using Ipop.Tap.Offload;
using static Ipop.Tap.Tests.Offload.TestPackets;

namespace Ipop.Tap.Tests.Offload;

public sealed class SuperPacketSplitterTests
{
    private static List<byte[]> Split(byte[] frame, int l3Offset = 0, bool uso = true)
    {
        var header = VirtioNetHeader.Read(frame);
        OffloadDropReason reason = SuperPacketSplitter.Prepare(frame.AsSpan(VirtioNetHeader.Size), header, l3Offset, uso, out SegmentationPlan plan);
        Assert.Equal(OffloadDropReason.None, reason);
        var segments = new List<byte[]>();
        byte[] slot = new byte[2000];
        for (int i = 0; i < plan.SegmentCount; i++)
        {
            int n = SuperPacketSplitter.WriteSegment(frame.AsSpan(VirtioNetHeader.Size), plan, i, slot);
            segments.Add(slot[..n]);
        }

        return segments;
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 14)]
    [InlineData(true, 14)]
    public void Tcp_super_packet_is_cut_into_segments_with_their_own_headers_and_checksums(bool v6, int l3Offset)
    {
        // 5 full segments of 1000 and one of 500; PSH and FIN only on the last, CWR only on the first.
        byte[] whole = Tcp(v6, 5500, 1_000_000, Ack | Psh | Fin | Cwr, id: 0xFFFE, l3Offset: l3Offset);
        byte[] frame = SuperPacket(whole, v6, v6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, 1000, l3Offset);

        List<byte[]> segments = Split(frame, l3Offset);

        Assert.Equal(6, segments.Count);
        int ipHeader = v6 ? 40 : 20;
        int headers = l3Offset + ipHeader + 32;
        for (int i = 0; i < segments.Count; i++)
        {
            byte[] s = segments[i];
            int payload = i < 5 ? 1000 : 500;
            Assert.Equal(headers + payload, s.Length);
            Assert.Equal(whole[..l3Offset], s[..l3Offset]);
            Span<byte> ip = s.AsSpan(l3Offset);
            Assert.True(ChecksumsValid(ip), $"segment {i}");
            if (v6)
            {
                Assert.Equal(32 + payload, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
            }
            else
            {
                Assert.Equal(ip.Length, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
                Assert.Equal((ushort)(0xFFFE + i), BinaryPrimitives.ReadUInt16BigEndian(ip[4..])); // wraps after 0xFFFF
            }

            Assert.Equal(1_000_000u + (uint)(i * 1000), BinaryPrimitives.ReadUInt32BigEndian(ip[(ipHeader + 4)..]));
            byte flags = ip[ipHeader + 13];
            Assert.Equal(i == 5, (flags & (Psh | Fin)) == (Psh | Fin));
            if (i < 5)
            {
                Assert.Equal(0, flags & (Psh | Fin));
            }

            Assert.Equal(i == 0, (flags & Cwr) != 0);
            Assert.Equal(whole.AsSpan(headers + (i * 1000), payload).ToArray(), s[headers..]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Udp_super_packet_is_cut_into_datagrams_when_uso_is_on(bool v6)
    {
        byte[] whole = Udp(v6, 3000);
        byte[] frame = SuperPacket(whole, v6, VirtioNetHeader.GsoUdpL4, 1200);

        List<byte[]> segments = Split(frame);

        Assert.Equal([1200, 1200, 600], segments.Select(s => s.Length - (v6 ? 48 : 28)));
        Assert.All(segments, s => Assert.True(ChecksumsValid(s)));
        Assert.All(segments, s => Assert.Equal(s.Length - (v6 ? 40 : 20), BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan((v6 ? 40 : 20) + 4))));

        var header = VirtioNetHeader.Read(frame);
        Assert.Equal(OffloadDropReason.UnsupportedGsoType, SuperPacketSplitter.Prepare(frame.AsSpan(VirtioNetHeader.Size), header, 0, usoEnabled: false, out _));
    }

    [Theory]
    [InlineData(false, 6)]
    [InlineData(true, 6)]
    [InlineData(false, 17)]
    [InlineData(true, 17)]
    public void Partial_checksum_of_a_single_packet_is_finished(bool v6, int protocol)
    {
        byte[] packet = protocol == 6 ? Tcp(v6, 300, 5) : Udp(v6, 300);
        byte[] frame = SuperPacket(packet, v6, VirtioNetHeader.GsoNone, 0);
        Assert.False(ChecksumsValid(frame.AsSpan(VirtioNetHeader.Size)));

        List<byte[]> segments = Split(frame);

        byte[] only = Assert.Single(segments);
        Assert.True(ChecksumsValid(only));
        Assert.Equal(packet, only);
    }

    [Fact]
    public void Frame_without_offload_passes_through_untouched_whatever_it_holds()
    {
        byte[] frame = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xEE, 0x01];

        Assert.Equal([0xFF, 0xEE, 0x01], Assert.Single(Split(frame)));
    }

    public static TheoryData<string, string> MalformedCases() => new()
    {
        { "gso size 0", nameof(OffloadDropReason.GsoSizeZero) },
        { "unknown gso type", nameof(OffloadDropReason.UnsupportedGsoType) },
        { "legacy UFO", nameof(OffloadDropReason.UnsupportedGsoType) },
        { "csum offset past the end", nameof(OffloadDropReason.ChecksumOffsetOutOfRange) },
        { "csum start past the end, no gso", nameof(OffloadDropReason.ChecksumOffsetOutOfRange) },
        { "TCPV4 on IPv6", nameof(OffloadDropReason.IpHeaderInvalid) },
        { "TCPV6 on IPv4", nameof(OffloadDropReason.IpHeaderInvalid) },
        { "IP version 5", nameof(OffloadDropReason.IpHeaderInvalid) },
        { "IPv4 IHL 4", nameof(OffloadDropReason.IpHeaderInvalid) },
        { "truncated IP header", nameof(OffloadDropReason.IpHeaderInvalid) },
        { "IPv4 total length too long", nameof(OffloadDropReason.IpLengthMismatch) },
        { "IPv6 payload length too short", nameof(OffloadDropReason.IpLengthMismatch) },
        { "IPv4 fragment", nameof(OffloadDropReason.Ipv4Fragment) },
        { "IPv6 hop-by-hop header", nameof(OffloadDropReason.Ipv6ExtensionHeader) },
        { "UDP with TCP gso type", nameof(OffloadDropReason.ProtocolMismatch) },
        { "TCP with UDP gso type", nameof(OffloadDropReason.ProtocolMismatch) },
        { "TCP data offset 4", nameof(OffloadDropReason.L4HeaderInvalid) },
        { "TCP data offset past the end", nameof(OffloadDropReason.L4HeaderInvalid) },
        { "TAP frame carrying ARP", nameof(OffloadDropReason.NotIp) },
    };

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void Malformed_frame_is_rejected_with_its_reason(string @case, string expected)
    {
        int l3Offset = 0;
        byte[] frame = @case switch
        {
            "TCPV4 on IPv6" => SuperPacket(Tcp(true, 3000, 1), true, VirtioNetHeader.GsoTcpV4, 1000),
            "TCPV6 on IPv4" => SuperPacket(Tcp(false, 3000, 1), false, VirtioNetHeader.GsoTcpV6, 1000),
            "UDP with TCP gso type" => SuperPacket(Udp(false, 3000), false, VirtioNetHeader.GsoTcpV4, 1000),
            "TCP with UDP gso type" => SuperPacket(Tcp(false, 3000, 1), false, VirtioNetHeader.GsoUdpL4, 1000),
            "TAP frame carrying ARP" => SuperPacket(Tcp(false, 3000, 1, l3Offset: 14), false, VirtioNetHeader.GsoTcpV4, 1000, 14),
            _ => SuperPacket(Tcp(false, 3000, 1), false, VirtioNetHeader.GsoTcpV4, 1000),
        };
        byte[] frameV6 = SuperPacket(Tcp(true, 3000, 1), true, VirtioNetHeader.GsoTcpV6, 1000);
        Span<byte> ip = frame.AsSpan(VirtioNetHeader.Size);
        switch (@case)
        {
            case "gso size 0": frame[4] = 0; frame[5] = 0; break;
            case "unknown gso type": frame[1] = 9; break;
            case "legacy UFO": frame[1] = VirtioNetHeader.GsoUdp; break;
            case "csum offset past the end": BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(8), 5000); break;
            case "csum start past the end, no gso": frame[1] = 0; BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(6), 4000); break;
            case "IP version 5": ip[0] = 0x55; break;
            case "IPv4 IHL 4": ip[0] = 0x44; break;
            case "truncated IP header": frame = frame[..(VirtioNetHeader.Size + 12)]; BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(6), 0); frame[8] = 0; break;
            case "IPv4 total length too long": ip[2] = 0xFF; break;
            case "IPv6 payload length too short": frame = frameV6; frame[VirtioNetHeader.Size + 4] = 0; break;
            case "IPv4 fragment": ip[6] = 0x20; break; // MF
            case "IPv6 hop-by-hop header": frame = frameV6; frame[VirtioNetHeader.Size + 6] = 0; break;
            case "TCP data offset 4": ip[32] = 0x40; break;
            case "TCP data offset past the end": frame = frame[..(VirtioNetHeader.Size + 50)]; ip = frame.AsSpan(VirtioNetHeader.Size); BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 50); ip[32] = 0xF0; frame[8] = 0; break;
            case "TAP frame carrying ARP": BinaryPrimitives.WriteUInt16BigEndian(ip[12..], 0x0806); l3Offset = 14; break;
        }

        var header = VirtioNetHeader.Read(frame);
        OffloadDropReason reason = SuperPacketSplitter.Prepare(frame.AsSpan(VirtioNetHeader.Size), header, l3Offset, usoEnabled: true, out _);

        Assert.Equal(expected, reason.ToString());
    }
}
