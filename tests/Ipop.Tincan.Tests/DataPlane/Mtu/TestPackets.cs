using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>IP packets with correct checksums for the path MTU tests, and the checks of checksums.</summary>
internal static class TestPackets
{
    public const byte Syn = 0x02;
    public const byte Ack = 0x10;

    /// <summary>A TCP segment (flags, MSS option unless 0, then a timestamp option and payload) over IPv4 or IPv6.</summary>
    public static byte[] Tcp(bool ipv6, byte flags, ushort mss, int payload = 0, bool dontFragment = true, bool reply = false)
    {
        int ipHeader = ipv6 ? 40 : 20;
        int options = (mss != 0 ? 4 : 0) + 12; // MSS, then NOP NOP timestamp
        int tcpLength = 20 + options + payload;
        byte[] p = new byte[ipHeader + tcpLength];
        WriteIpHeader(p, ipv6, protocol: 6, dontFragment, reply);
        Span<byte> tcp = p.AsSpan(ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 0x01020304);
        tcp[12] = (byte)(((20 + options) / 4) << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 64240);
        int o = 20;
        if (mss != 0)
        {
            tcp[o] = 2;
            tcp[o + 1] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[(o + 2)..], mss);
            o += 4;
        }

        tcp[o] = 1;
        tcp[o + 1] = 1;
        tcp[o + 2] = 8;
        tcp[o + 3] = 10;
        for (int i = 20 + options; i < tcpLength; i++)
        {
            tcp[i] = (byte)(i * 13);
        }

        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], L4Checksum(p, ipv6, 6));
        return p;
    }

    /// <summary>An ICMP echo request of <paramref name="length"/> bytes in all (ping -M do -s length-28).</summary>
    public static byte[] Echo(bool ipv6, int length, bool dontFragment = true)
    {
        byte[] p = new byte[length];
        WriteIpHeader(p, ipv6, protocol: ipv6 ? (byte)58 : (byte)1, dontFragment);
        int l4 = ipv6 ? 40 : 20;
        p[l4] = ipv6 ? (byte)128 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(l4 + 2), ipv6 ? L4Checksum(p, true, 58) : IcmpUnreachable.Checksum(p.AsSpan(l4), 0));
        return p;
    }

    public static IPAddress Source(bool ipv6) => IPAddress.Parse(ipv6 ? "2001:2:0:1::1" : "198.19.0.1");

    public static IPAddress Destination(bool ipv6) => IPAddress.Parse(ipv6 ? "2001:2:0:1::2" : "198.19.0.2");

    private static void WriteIpHeader(byte[] p, bool ipv6, byte protocol, bool dontFragment, bool reply = false)
    {
        if (ipv6)
        {
            p[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(p.Length - 40));
            p[6] = protocol;
            p[7] = 64;
            (reply ? Destination(true) : Source(true)).TryWriteBytes(p.AsSpan(8), out _);
            (reply ? Source(true) : Destination(true)).TryWriteBytes(p.AsSpan(24), out _);
            return;
        }

        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), 0x1234);
        p[6] = dontFragment ? (byte)0x40 : (byte)0;
        p[8] = 64;
        p[9] = protocol;
        (reply ? Destination(false) : Source(false)).TryWriteBytes(p.AsSpan(12), out _);
        (reply ? Source(false) : Destination(false)).TryWriteBytes(p.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), IcmpUnreachable.Checksum(p.AsSpan(0, 20), 0));
    }

    /// <summary>The checksum a TCP/UDP/ICMPv6 header must carry (computed with its checksum field as is: 0 when building).</summary>
    public static ushort L4Checksum(ReadOnlySpan<byte> ip, bool ipv6, byte protocol)
    {
        int l4 = ipv6 ? 40 : (ip[0] & 0x0F) * 4;
        int length = ip.Length - l4;
        uint pseudo = 0;
        ReadOnlySpan<byte> addresses = ipv6 ? ip.Slice(8, 32) : ip.Slice(12, 8);
        for (int i = 0; i < addresses.Length; i += 2)
        {
            pseudo += BinaryPrimitives.ReadUInt16BigEndian(addresses[i..]);
        }

        pseudo += (uint)length + protocol;
        return IcmpUnreachable.Checksum(ip[l4..], pseudo);
    }

    /// <summary>True when the L4 checksum of <paramref name="ip"/> verifies (the sum over everything is 0).</summary>
    public static bool L4ChecksumVerifies(ReadOnlySpan<byte> ip, bool ipv6, byte protocol) => L4Checksum(ip, ipv6, protocol) == 0;

    /// <summary>The MSS option of a TCP segment, or 0.</summary>
    public static int Mss(ReadOnlySpan<byte> ip)
    {
        int l4 = (ip[0] >> 4) == 6 ? 40 : (ip[0] & 0x0F) * 4;
        ReadOnlySpan<byte> tcp = ip[l4..];
        int end = (tcp[12] >> 4) * 4;
        for (int i = 20; i < end;)
        {
            if (tcp[i] == 0)
            {
                break;
            }

            if (tcp[i] == 1)
            {
                i++;
                continue;
            }

            if (tcp[i] == 2)
            {
                return BinaryPrimitives.ReadUInt16BigEndian(tcp[(i + 2)..]);
            }

            i += tcp[i + 1];
        }

        return 0;
    }
}
