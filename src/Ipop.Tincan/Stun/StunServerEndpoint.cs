using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.Stun;

/// <summary>A configured STUN server: host name or literal address, and UDP port (3478 by default, RFC 8489 section 18.1).</summary>
internal sealed record StunServerEndpoint(string Host, int Port = StunServerEndpoint.DefaultPort)
{
    public const int DefaultPort = 3478;

    public static StunServerEndpoint FromEndPoint(IPEndPoint endPoint) => new(endPoint.Address.ToString(), endPoint.Port);

    /// <summary>Parses "host", "host:port", "[v6]:port" or "v6".</summary>
    public static StunServerEndpoint Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        if (IPEndPoint.TryParse(text, out IPEndPoint? endPoint) && (text.Contains(']', StringComparison.Ordinal) || text.Count(c => c == ':') != 1))
        {
            return new(endPoint.Address.ToString(), endPoint.Port == 0 ? DefaultPort : endPoint.Port);
        }

        int colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535)
        {
            return new(text[..colon], port);
        }

        return new(text);
    }

    /// <summary>Resolves to one address of <paramref name="family"/> (literal addresses need no DNS).</summary>
    public async Task<IPEndPoint> ResolveAsync(AddressFamily family, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(Host, out IPAddress? literal))
        {
            return new IPEndPoint(literal, Port);
        }

        IPAddress[] addresses = await Dns.GetHostAddressesAsync(Host, family, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        return new IPEndPoint(addresses[0], Port);
    }

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
