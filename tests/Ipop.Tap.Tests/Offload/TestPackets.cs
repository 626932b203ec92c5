using System.Buffers.Binary;
using Ipop.Tap.Offload;

namespace Ipop.Tap.Tests.Offload;

/// <summary>Builds TCP/UDP packets and kernel-style super-packets for the splitter and coalescer tests, and checks checksums independently of the product code.</summary>
internal static class TestPackets
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
    public const byte Urg = 0x20;
    public const byte Cwr = 0x80;

    private static readonly byte[] Source4 = [198, 18, 0, 1];
    private static readonly byte[] Destination4 = [198, 18, 0, 2];
    private static readonly byte[] Source6 = [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    private static readonly byte[] Destination6 = [0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    /// <summary>A TCP segment with valid checksums; payload byte i is (seq + i) so contiguous segments form one stream.</summary>
    public static byte[] Tcp(bool v6, int payloadLength, uint sequence, byte flags = Ack, ushort id = 100, int l3Offset = 0, ushort sourcePort = 40000, int optionsLength = 12)
    {
        int ipHeader = v6 ? 40 : 20;
        int tcpHeader = 20 + optionsLength;
        byte[] packet = new byte[l3Offset + ipHeader + tcpHeader + payloadLength];
        WriteL2(packet, l3Offset, v6);
        Span<byte> ip = packet.AsSpan(l3Offset);
        WriteIp(ip, v6, 6, id, ipHeader + tcpHeader + payloadLength);
        Span<byte> tcp = ip[ipHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 777);
        tcp[12] = (byte)((tcpHeader / 4) << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 501);
        for (int i = 0; i < optionsLength; i++)
        {
            tcp[20 + i] = i < 2 ? (byte)1 : (byte)(0x40 + i); // NOP NOP then fixed "timestamp" bytes
        }

        for (int i = 0; i < payloadLength; i++)
        {
            tcp[tcpHeader + i] = (byte)(sequence + i);
        }

        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], L4Checksum(ip, v6, 6));
        return packet;
    }

    /// <summary>A UDP datagram with a valid checksum.</summary>
    public static byte[] Udp(bool v6, int payloadLength, int l3Offset = 0, ushort id = 100, byte seed = 0)
    {
        int ipHeader = v6 ? 40 : 20;
        byte[] packet = new byte[l3Offset + ipHeader + 8 + payloadLength];
        WriteL2(packet, l3Offset, v6);
        Span<byte> ip = packet.AsSpan(l3Offset);
        WriteIp(ip, v6, 17, id, ipHeader + 8 + payloadLength);
        Span<byte> udp = ip[ipHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 4789);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payloadLength));
        for (int i = 0; i < payloadLength; i++)
        {
            udp[8 + i] = (byte)((i * 7) + seed);
        }

        ushort checksum = L4Checksum(ip, v6, 17);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return packet;
    }

    /// <summary>
    /// A frame as the kernel hands it out with TSO/USO: a virtio_net_hdr with NEEDS_CSUM, then the whole packet
    /// whose L4 checksum field holds only the pseudo-header sum.
    /// </summary>
    public static byte[] SuperPacket(byte[] packet, bool v6, byte gsoType, int gsoSize, int l3Offset = 0)
    {
        int ipHeader = v6 ? 40 : 20;
        byte[] frame = new byte[VirtioNetHeader.Size + packet.Length];
        packet.CopyTo(frame, VirtioNetHeader.Size);
        Span<byte> ip = frame.AsSpan(VirtioNetHeader.Size + l3Offset);
        bool udp = gsoType == VirtioNetHeader.GsoUdpL4 || (gsoType == VirtioNetHeader.GsoNone && (v6 ? ip[6] : ip[9]) == 17);
        int checksumOffset = udp ? 6 : 16;
        int l4Length = ip.Length - ipHeader;
        ushort pseudo = (ushort)~PacketCrafter.Checksum(PseudoHeader(ip, v6, udp ? (byte)17 : (byte)6, l4Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[(ipHeader + checksumOffset)..], pseudo);
        int l4Header = udp ? 8 : (ip[ipHeader + 12] >> 4) * 4;
        new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, gsoType, (ushort)(l3Offset + ipHeader + l4Header), (ushort)gsoSize, (ushort)(l3Offset + ipHeader), (ushort)checksumOffset)
            .Write(frame);
        return frame;
    }

    /// <summary>True if the IPv4 header checksum (when IPv4) and the TCP/UDP checksum are valid, by RFC 1071 on 16-bit words.</summary>
    public static bool ChecksumsValid(ReadOnlySpan<byte> ip)
    {
        bool v6 = ip[0] >> 4 == 6;
        int ipHeader = v6 ? 40 : (ip[0] & 0xF) * 4;
        if (!v6 && PacketCrafter.Checksum(ip[..ipHeader]) != 0)
        {
            return false;
        }

        byte protocol = v6 ? ip[6] : ip[9];
        byte[] all = [.. PseudoHeader(ip, v6, protocol, ip.Length - ipHeader), .. ip[ipHeader..]];
        return PacketCrafter.Checksum(all) == 0;
    }

    public static ushort L4Checksum(ReadOnlySpan<byte> ip, bool v6, byte protocol)
    {
        int ipHeader = v6 ? 40 : 20;
        byte[] segment = ip[ipHeader..].ToArray();
        segment[protocol == 6 ? 16 : 6] = 0;
        segment[(protocol == 6 ? 16 : 6) + 1] = 0;
        return PacketCrafter.Checksum([.. PseudoHeader(ip, v6, protocol, segment.Length), .. segment]);
    }

    private static byte[] PseudoHeader(ReadOnlySpan<byte> ip, bool v6, byte protocol, int l4Length)
    {
        // RFC 793 (12 bytes) or RFC 8200 section 8.1 (40 bytes), byte for byte.
        return v6
            ? [.. ip.Slice(8, 32), (byte)(l4Length >> 24), (byte)(l4Length >> 16), (byte)(l4Length >> 8), (byte)l4Length, 0, 0, 0, protocol]
            : [.. ip.Slice(12, 8), 0, protocol, (byte)(l4Length >> 8), (byte)l4Length];
    }

    private static void WriteL2(byte[] packet, int l3Offset, bool v6)
    {
        if (l3Offset == 0)
        {
            return;
        }

        for (int i = 0; i < 12; i++)
        {
            packet[i] = (byte)(0x02 + i);
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(12), v6 ? (ushort)0x86DD : (ushort)0x0800);
    }

    private static void WriteIp(Span<byte> ip, bool v6, byte protocol, ushort id, int totalLength)
    {
        if (v6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(totalLength - 40));
            ip[6] = protocol;
            ip[7] = 64;
            Source6.CopyTo(ip[8..]);
            Destination6.CopyTo(ip[24..]);
            return;
        }

        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = protocol;
        Source4.CopyTo(ip[12..]);
        Destination4.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], PacketCrafter.Checksum(ip[..20]));
    }
}
