using System.Buffers.Binary;
using System.Net;

namespace Ipop.Lab.Frames;

/// <summary>Ethernet ARP packets for IPv4 (RFC 826), 42 bytes, for tests of switch mode.</summary>
public static class ArpFrame
{
    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    private static readonly byte[] Unknown = new byte[6];

    /// <summary>Any ARP packet: the Ethernet addresses, the operation (1 request, 2 reply), sender and target.</summary>
    public static byte[] Build(ReadOnlySpan<byte> ethDestination, ReadOnlySpan<byte> ethSource, ushort operation, ReadOnlySpan<byte> senderMac, IPAddress senderIp, ReadOnlySpan<byte> targetMac, IPAddress targetIp)
    {
        ArgumentNullException.ThrowIfNull(senderIp);
        ArgumentNullException.ThrowIfNull(targetIp);
        byte[] f = new byte[42];
        ethDestination.CopyTo(f);
        ethSource.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), 0x0001_0800); // Ethernet, IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), operation);
        senderMac.CopyTo(f.AsSpan(22));
        senderIp.GetAddressBytes().CopyTo(f, 28);
        targetMac.CopyTo(f.AsSpan(32));
        targetIp.GetAddressBytes().CopyTo(f, 38);
        return f;
    }

    /// <summary>The broadcast request a kernel sends for <paramref name="targetIp"/>.</summary>
    public static byte[] Request(ReadOnlySpan<byte> senderMac, IPAddress senderIp, IPAddress targetIp) =>
        Build(Broadcast, senderMac, 1, senderMac, senderIp, Unknown, targetIp);
}
