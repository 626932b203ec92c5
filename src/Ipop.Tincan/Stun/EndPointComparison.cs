using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>
/// Endpoint equality that treats an IPv4 address and its IPv4-mapped IPv6 form (::ffff:a.b.c.d) as the
/// same, because a dual-mode socket reports IPv4 senders in the mapped form while configuration and
/// STUN attributes use plain IPv4. No allocation: this runs for every datagram from a TURN server.
/// </summary>
internal static class EndPointComparison
{
    public static bool Same(IPEndPoint a, IPEndPoint b)
    {
        if (a.Port != b.Port)
        {
            return false;
        }

        IPAddress x = a.Address;
        IPAddress y = b.Address;
        if (x.AddressFamily == y.AddressFamily)
        {
            return x.Equals(y);
        }

        Span<byte> bx = stackalloc byte[16];
        Span<byte> by = stackalloc byte[16];
        if (!x.TryWriteBytes(bx, out int nx) || !y.TryWriteBytes(by, out int ny) || nx + ny != 20)
        {
            return false;
        }

        ReadOnlySpan<byte> v4 = nx == 4 ? bx[..4] : by[..4];
        ReadOnlySpan<byte> v6 = nx == 16 ? bx : by;
        return !v6[..10].ContainsAnyExcept((byte)0) && v6[10] == 0xFF && v6[11] == 0xFF && v6[12..].SequenceEqual(v4);
    }
}
