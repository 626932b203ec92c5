using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>
/// The switch (TAP) mode "too big" answer: an Ethernet frame back to the sender from the station it sent to, carrying
/// the same ICMP/ICMPv6 answer the TUN gets. Checksums are verified with a sum written here, not the writer's own.
/// </summary>
public sealed class TooBigFrameAnswerTests
{
    private static readonly byte[] SenderMac = [0x02, 0, 0, 0, 0, 0x01];
    private static readonly byte[] StationMac = [0x02, 0, 0, 0, 0, 0x02];

    [Fact]
    public void An_ipv4_frame_with_df_gets_fragmentation_needed_from_the_station_it_was_sent_to_with_valid_checksums()
    {
        byte[] packet = TestPackets.Echo(ipv6: false, 1400);
        byte[] frame = SwitchNode.Frame(StationMac, SenderMac, packet);
        byte[] answer = new byte[1600];
        int length = IcmpUnreachable.WriteTooBigFrame(frame, 1206, answer);

        Assert.Equal(14 + 20 + 8 + 548, length);
        Assert.Equal(SenderMac, answer[..6]);
        Assert.Equal(StationMac, answer[6..12]);
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(12)));

        ReadOnlySpan<byte> ip = answer.AsSpan(14, length - 14);
        Assert.Equal(0x45, ip[0]);
        Assert.Equal(ip.Length, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
        Assert.Equal(1, ip[9]);
        Assert.Equal(TestPackets.Destination(false), new IPAddress(ip.Slice(12, 4))); // from the packet's destination...
        Assert.Equal(TestPackets.Source(false), new IPAddress(ip.Slice(16, 4))); // ...to its source
        Assert.Equal(0, OnesComplementSum(ip[..20]) ^ 0xFFFF);

        ReadOnlySpan<byte> icmp = ip[20..];
        Assert.Equal((3, 4), (icmp[0], icmp[1]));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]));
        Assert.Equal(1206, BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]));
        Assert.Equal(0, OnesComplementSum(icmp) ^ 0xFFFF);
        Assert.True(icmp[8..].SequenceEqual(packet.AsSpan(0, 548))); // the quote starts at the IP header, not the frame
    }

    [Fact]
    public void An_ipv6_frame_gets_packet_too_big_naming_the_mtu_with_a_valid_icmpv6_checksum()
    {
        byte[] packet = TestPackets.Echo(ipv6: true, 1400);
        byte[] frame = SwitchNode.Frame(StationMac, SenderMac, packet);
        byte[] answer = new byte[1600];
        int length = IcmpUnreachable.WriteTooBigFrame(frame, 1350, answer);

        Assert.Equal(14 + 1280, length);
        Assert.Equal(SenderMac, answer[..6]);
        Assert.Equal(StationMac, answer[6..12]);
        Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(12)));

        ReadOnlySpan<byte> ip = answer.AsSpan(14, length - 14);
        Assert.Equal(6, ip[0] >> 4);
        Assert.Equal(ip.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
        Assert.Equal(58, ip[6]);
        Assert.Equal(TestPackets.Destination(true), new IPAddress(ip.Slice(8, 16)));
        Assert.Equal(TestPackets.Source(true), new IPAddress(ip.Slice(24, 16)));
        ReadOnlySpan<byte> icmp = ip[40..];
        Assert.Equal((2, 0), (icmp[0], icmp[1]));
        Assert.Equal(1350u, BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]));
        Assert.True(icmp[8..].SequenceEqual(packet.AsSpan(0, 1280 - 48)));

        // RFC 8200 section 8.1: source, destination, upper-layer length (32 bits), three zero bytes, next header 58.
        byte[] pseudo = new byte[40];
        ip.Slice(8, 32).CopyTo(pseudo);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), (uint)icmp.Length);
        pseudo[39] = 58;
        Assert.Equal(0xFFFF, OnesComplementSum([.. pseudo, .. icmp]));
    }

    [Fact]
    public void Frames_an_ipv4_network_may_fragment_are_not_answered()
    {
        byte[] answer = new byte[1600];
        byte[] frame = SwitchNode.Frame(StationMac, SenderMac, TestPackets.Echo(ipv6: false, 1400, dontFragment: false));
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(frame, 1206, answer));
    }

    [Theory]
    [InlineData("ff:ff:ff:ff:ff:ff")] // broadcast
    [InlineData("01:00:5e:00:00:01")] // IPv4 multicast
    [InlineData("33:33:00:00:00:01")] // IPv6 multicast
    public void A_frame_for_a_group_address_is_never_answered(string destination)
    {
        byte[] mac = Convert.FromHexString(destination.Replace(":", string.Empty, StringComparison.Ordinal));
        byte[] answer = new byte[1600];
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(SwitchNode.Frame(mac, SenderMac, TestPackets.Echo(false, 1400)), 1206, answer));
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(SwitchNode.Frame(mac, SenderMac, TestPackets.Echo(true, 1400)), 1206, answer));
    }

    [Fact]
    public void A_frame_from_a_group_address_is_not_answered()
    {
        byte[] answer = new byte[1600];
        byte[] group = [0x01, 0, 0x5e, 0, 0, 1];
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(SwitchNode.Frame(StationMac, group, TestPackets.Echo(false, 1400)), 1206, answer));
    }

    [Fact]
    public void A_vlan_tagged_frame_or_one_whose_ethertype_does_not_match_its_ip_version_is_not_answered()
    {
        byte[] answer = new byte[1600];
        byte[] packet = TestPackets.Echo(ipv6: false, 1400);
        byte[] tagged = new byte[18 + packet.Length];
        StationMac.CopyTo(tagged, 0);
        SenderMac.CopyTo(tagged, 6);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 42);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(16), 0x0800);
        packet.CopyTo(tagged, 18);
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(tagged, 1206, answer));

        byte[] mismatched = SwitchNode.Frame(StationMac, SenderMac, packet);
        BinaryPrimitives.WriteUInt16BigEndian(mismatched.AsSpan(12), 0x86DD);
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(mismatched, 1206, answer));
    }

    [Fact]
    public void Too_little_room_for_the_answer_writes_nothing()
    {
        byte[] frame = SwitchNode.Frame(StationMac, SenderMac, TestPackets.Echo(ipv6: false, 1400));
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(frame, 1206, new byte[14 + 20 + 8 + 547]));
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(frame, 1206, new byte[10]));
        Assert.Equal(0, IcmpUnreachable.WriteTooBigFrame(frame.AsSpan(0, 14), 1206, new byte[1600]));
    }

    /// <summary>The 16-bit one's complement sum (RFC 1071), folded; 0xFFFF over data that includes a valid checksum.</summary>
    private static int OnesComplementSum(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (int)sum;
    }
}
