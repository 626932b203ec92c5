using System.Buffers.Binary;
using System.Net;

namespace Ipop.Controllers.Tests.SocialVpn;

/// <summary>Builds IPv4 packets with checksums computed from scratch, and verifies them the same way.</summary>
internal static class Ipv4Packets
{
    public static uint Addr(string a) => BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(a).GetAddressBytes());

    public static byte[] Build(string src, string dst, byte protocol, byte[] l4, ushort fragmentField = 0, int id = 0x1234)
    {
        byte[] p = new byte[20 + l4.Length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), fragmentField);
        p[8] = 64;
        p[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), Addr(src));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), Addr(dst));
        l4.CopyTo(p, 20);
        return p;
    }

    public static byte[] Udp(int srcPort, int dstPort, byte[] payload)
    {
        byte[] u = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, (ushort)srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), (ushort)dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        payload.CopyTo(u, 8);
        return u;
    }

    public static byte[] Tcp(int srcPort, int dstPort, byte[] payload)
    {
        byte[] t = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, (ushort)srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), (ushort)dstPort);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), 0x01020304);
        t[12] = 0x50;
        t[13] = 0x18;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 65535);
        payload.CopyTo(t, 20);
        return t;
    }

    public static byte[] IcmpEcho(byte[] payload)
    {
        byte[] i = new byte[8 + payload.Length];
        i[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(i.AsSpan(4), 0x4242);
        payload.CopyTo(i, 8);
        return i;
    }

    public static byte[] IcmpError(byte type, byte code, byte[] quoted)
    {
        byte[] i = new byte[8 + quoted.Length];
        i[0] = type;
        i[1] = code;
        quoted.CopyTo(i, 8);
        return i;
    }

    /// <summary>Fills in every checksum of a (whole, unfragmented or first-fragment) packet from scratch.</summary>
    public static byte[] WithChecksums(byte[] p, bool udpChecksum = true)
    {
        int ihl = (p[0] & 0xF) * 4;
        Span<byte> l4 = p.AsSpan(ihl);
        bool first = (BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(6)) & 0x1FFF) == 0;
        bool moreFragments = (p[6] & 0x20) != 0;
        if (first && !moreFragments)
        {
            switch (p[9])
            {
                case 6:
                    BinaryPrimitives.WriteUInt16BigEndian(l4[16..], 0);
                    BinaryPrimitives.WriteUInt16BigEndian(l4[16..], PseudoChecksum(p, l4));
                    break;
                case 17:
                    BinaryPrimitives.WriteUInt16BigEndian(l4[6..], 0);
                    if (udpChecksum)
                    {
                        ushort c = PseudoChecksum(p, l4);
                        BinaryPrimitives.WriteUInt16BigEndian(l4[6..], c == 0 ? (ushort)0xFFFF : c);
                    }

                    break;
                case 1:
                    if (l4[0] is 3 or 11)
                    {
                        WithChecksums(l4[8..].ToArray()).CopyTo(l4[8..]);
                    }

                    BinaryPrimitives.WriteUInt16BigEndian(l4[2..], 0);
                    BinaryPrimitives.WriteUInt16BigEndian(l4[2..], Checksum(l4, 0));
                    break;
            }
        }

        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, ihl), 0));
        return p;
    }

    public static ushort PseudoChecksum(ReadOnlySpan<byte> ip, ReadOnlySpan<byte> l4)
    {
        uint sum = Sum(ip.Slice(12, 8), 0) + ip[9] + (uint)l4.Length;
        return Checksum(l4, sum);
    }

    public static ushort Checksum(ReadOnlySpan<byte> data, uint partial)
    {
        uint sum = Sum(data, partial);
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        ulong s = sum;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            s += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            s += (uint)(data[i] << 8);
        }

        while ((s >> 16) != 0)
        {
            s = (s & 0xFFFF) + (s >> 16);
        }

        return (uint)s;
    }
}
