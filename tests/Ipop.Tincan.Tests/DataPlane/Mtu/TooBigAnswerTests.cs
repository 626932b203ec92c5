using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

public sealed class TooBigAnswerTests
{
    [Fact]
    public void An_ipv4_packet_with_df_gets_fragmentation_needed_naming_the_mtu_with_valid_checksums()
    {
        byte[] packet = TestPackets.Echo(ipv6: false, 1400);
        byte[] answer = new byte[1500];
        int length = IcmpUnreachable.WriteTooBig(packet, 1220, answer);

        Assert.Equal(20 + 8 + 548, length); // quote capped so the error fits 576 bytes
        ReadOnlySpan<byte> ip = answer.AsSpan(0, length);
        Assert.Equal(0, IcmpUnreachable.Checksum(ip[..20], 0));
        Assert.Equal(1, ip[9]);
        Assert.Equal(length, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
        Assert.Equal(TestPackets.Destination(false), new IPAddress(ip.Slice(12, 4)));
        Assert.Equal(TestPackets.Source(false), new IPAddress(ip.Slice(16, 4)));
        ReadOnlySpan<byte> icmp = ip[20..];
        Assert.Equal(3, icmp[0]);
        Assert.Equal(4, icmp[1]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]));
        Assert.Equal(1220, BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]));
        Assert.Equal(0, IcmpUnreachable.Checksum(icmp, 0));
        Assert.True(icmp[8..].SequenceEqual(packet.AsSpan(0, 548)));
    }

    [Fact]
    public void An_ipv6_packet_gets_packet_too_big_naming_the_mtu_never_below_1280_with_a_valid_checksum()
    {
        byte[] packet = TestPackets.Echo(ipv6: true, 1400);
        byte[] answer = new byte[1500];
        foreach ((int mtu, int advertised) in new[] { (1350, 1350), (1200, 1280) })
        {
            int length = IcmpUnreachable.WriteTooBig(packet, mtu, answer);
            Assert.Equal(1280, length); // RFC 4443: as much of the packet as fits the minimum MTU
            ReadOnlySpan<byte> ip = answer.AsSpan(0, length);
            Assert.Equal(58, ip[6]);
            Assert.Equal(TestPackets.Source(true), new IPAddress(ip.Slice(24, 16)));
            Assert.Equal(2, ip[40]);
            Assert.Equal(0, ip[41]);
            Assert.Equal((uint)advertised, BinaryPrimitives.ReadUInt32BigEndian(ip[44..]));
            Assert.True(TestPackets.L4ChecksumVerifies(ip, ipv6: true, 58));
        }
    }

    [Fact]
    public void No_answer_for_ipv4_without_df_nor_for_an_icmp_error()
    {
        byte[] answer = new byte[1500];
        Assert.Equal(0, IcmpUnreachable.WriteTooBig(TestPackets.Echo(false, 1400, dontFragment: false), 1220, answer));

        byte[] error = TestPackets.Echo(false, 1400);
        error[20] = 3; // itself a destination unreachable
        Assert.Equal(0, IcmpUnreachable.WriteTooBig(error, 1220, answer));

        byte[] error6 = TestPackets.Echo(true, 1400);
        error6[40] = 2;
        Assert.Equal(0, IcmpUnreachable.WriteTooBig(error6, 1300, answer));
    }

    [Fact]
    public void Host_unreachable_is_unchanged_by_the_shared_writer()
    {
        byte[] answer = new byte[1500];
        int length = IcmpUnreachable.Write(TestPackets.Echo(false, 100), answer);
        Assert.Equal(20 + 8 + 100, length);
        Assert.Equal(3, answer[20]);
        Assert.Equal(1, answer[21]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(24)));
        Assert.Equal(0, IcmpUnreachable.Checksum(answer.AsSpan(20, length - 20), 0));
    }
}
