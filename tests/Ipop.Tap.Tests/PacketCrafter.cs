using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tap.Tests;

/// <summary>Just enough IPv4/IPv6/ICMP/ARP/Ethernet to answer the kernel's ping by hand.</summary>
internal static class PacketCrafter
{
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const int EthernetHeaderLength = 14;

    /// <summary>RFC 1071 Internet checksum over <paramref name="data"/>, continuing from <paramref name="initial"/>.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        uint sum = initial;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
        }

        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    /// <summary>Is this an IPv4 ICMP echo request to <paramref name="destination"/>?</summary>
    public static bool IsIcmpEchoRequest(ReadOnlySpan<byte> packet, IPAddress destination)
    {
        if (packet.Length < 28 || packet[0] >> 4 != 4 || packet[9] != 1)
        {
            return false;
        }

        int headerLength = (packet[0] & 0xF) * 4;
        return packet.Length >= headerLength + 8
            && packet[headerLength] == 8
            && new IPAddress(packet.Slice(16, 4)).Equals(destination);
    }

    /// <summary>Turns an IPv4 echo request into the echo reply (in place): swaps addresses, type 0, both checksums recomputed.</summary>
    public static void MakeIcmpEchoReply(Span<byte> packet)
    {
        int headerLength = (packet[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        Span<byte> source = stackalloc byte[4];
        packet.Slice(12, 4).CopyTo(source);
        packet.Slice(16, 4).CopyTo(packet[12..]);
        source.CopyTo(packet[16..]);
        packet[8] = 64; // TTL
        packet[10] = 0;
        packet[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], Checksum(packet[..headerLength]));

        Span<byte> icmp = packet[headerLength..total];
        icmp[0] = 0; // echo reply
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(icmp));
    }

    /// <summary>Is this an IPv6 ICMPv6 echo request (no extension headers) to <paramref name="destination"/>?</summary>
    public static bool IsIcmpv6EchoRequest(ReadOnlySpan<byte> packet, IPAddress destination) =>
        packet.Length >= 48 && packet[0] >> 4 == 6 && packet[6] == 58 && packet[40] == 128
        && new IPAddress(packet.Slice(24, 16)).Equals(destination);

    /// <summary>Turns an ICMPv6 echo request into the reply (in place), checksum over the RFC 8200 section 8.1 pseudo-header.</summary>
    public static void MakeIcmpv6EchoReply(Span<byte> packet)
    {
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        Span<byte> source = stackalloc byte[16];
        packet.Slice(8, 16).CopyTo(source);
        packet.Slice(24, 16).CopyTo(packet[8..]);
        source.CopyTo(packet[24..]);
        packet[7] = 64; // hop limit

        Span<byte> icmp = packet.Slice(40, payloadLength);
        icmp[0] = 129; // echo reply
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(icmp, PseudoHeaderSum(packet.Slice(8, 16), packet.Slice(24, 16), payloadLength, 58)));
    }

    /// <summary>Is this Ethernet frame an ARP request for <paramref name="target"/>?</summary>
    public static bool IsArpRequest(ReadOnlySpan<byte> frame, IPAddress target) =>
        frame.Length >= EthernetHeaderLength + 28
        && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherTypeArp
        && BinaryPrimitives.ReadUInt16BigEndian(frame[(EthernetHeaderLength + 6)..]) == 1
        && new IPAddress(frame.Slice(EthernetHeaderLength + 24, 4)).Equals(target);

    /// <summary>Writes the ARP reply (RFC 826) "<paramref name="ourIp"/> is at <paramref name="ourMac"/>" to a request; returns its length.</summary>
    public static int WriteArpReply(ReadOnlySpan<byte> request, ReadOnlySpan<byte> ourMac, Span<byte> reply)
    {
        ReadOnlySpan<byte> arp = request[EthernetHeaderLength..];
        ReadOnlySpan<byte> senderMac = arp.Slice(8, 6);
        ReadOnlySpan<byte> senderIp = arp.Slice(14, 4);
        ReadOnlySpan<byte> targetIp = arp.Slice(24, 4);

        WriteEthernetHeader(reply, senderMac, ourMac, EtherTypeArp);
        Span<byte> r = reply[EthernetHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(r, 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(r[2..], EtherTypeIpv4);
        r[4] = 6;
        r[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(r[6..], 2); // reply
        ourMac.CopyTo(r[8..]);
        targetIp.CopyTo(r[14..]);
        senderMac.CopyTo(r[18..]);
        senderIp.CopyTo(r[24..]);
        return EthernetHeaderLength + 28;
    }

    /// <summary>Is this Ethernet frame carrying an ICMP echo request to <paramref name="destination"/>?</summary>
    public static bool IsIcmpEchoRequestFrame(ReadOnlySpan<byte> frame, IPAddress destination) =>
        frame.Length > EthernetHeaderLength
        && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherTypeIpv4
        && IsIcmpEchoRequest(frame[EthernetHeaderLength..], destination);

    /// <summary>Turns an Ethernet frame with an echo request into the frame with the reply (in place).</summary>
    public static void MakeIcmpEchoReplyFrame(Span<byte> frame)
    {
        Span<byte> mac = stackalloc byte[6];
        frame[..6].CopyTo(mac);
        frame.Slice(6, 6).CopyTo(frame);
        mac.CopyTo(frame[6..]);
        MakeIcmpEchoReply(frame[EthernetHeaderLength..]);
    }

    public static void WriteEthernetHeader(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, ushort etherType)
    {
        destination.CopyTo(frame);
        source.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], etherType);
    }

    private static uint PseudoHeaderSum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, int upperLength, byte nextHeader)
    {
        uint sum = 0;
        for (int i = 0; i < 16; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(source[i..]);
            sum += BinaryPrimitives.ReadUInt16BigEndian(destination[i..]);
        }

        sum += (uint)(upperLength >> 16) + (uint)(upperLength & 0xFFFF);
        sum += nextHeader;
        return sum;
    }
}
