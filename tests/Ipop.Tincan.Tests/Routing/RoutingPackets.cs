using System.Net;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>Minimal IP headers for routing decisions: only the version, addresses and (IPv4) TTL are filled in.</summary>
internal static class RoutingPackets
{
    /// <summary>A 28-byte IPv4 packet from <paramref name="src"/> to <paramref name="dst"/> with TTL 64.</summary>
    public static byte[] Ipv4(string src, string dst)
    {
        byte[] p = new byte[28];
        p[0] = 0x45;
        p[8] = 64;
        IPAddress.Parse(src).TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse(dst).TryWriteBytes(p.AsSpan(16), out _);
        return p;
    }

    /// <summary>A 48-byte IPv6 packet from <paramref name="src"/> to <paramref name="dst"/>.</summary>
    public static byte[] Ipv6(string src, string dst)
    {
        byte[] p = new byte[48];
        p[0] = 0x60;
        IPAddress.Parse(src).TryWriteBytes(p.AsSpan(8), out _);
        IPAddress.Parse(dst).TryWriteBytes(p.AsSpan(24), out _);
        return p;
    }
}
