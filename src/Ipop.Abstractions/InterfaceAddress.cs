using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ipop;

/// <summary>A host address on an interface together with its on-link prefix length, e.g. <c>198.19.0.1/16</c>.</summary>
/// <remarks><see cref="IPNetwork"/> cannot hold this: it requires the host bits to be zero.</remarks>
public readonly record struct InterfaceAddress
{
    /// <summary>Creates an interface address.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The prefix length does not fit the address family.</exception>
    public InterfaceAddress(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        int max = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        if (prefixLength < 0 || prefixLength > max)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, $"Prefix length for {address} must be between 0 and {max}.");
        }

        Address = address;
        PrefixLength = prefixLength;
    }

    /// <summary>The host address.</summary>
    public IPAddress Address { get; }

    /// <summary>The on-link prefix length.</summary>
    public int PrefixLength { get; }

    /// <summary>The network this address is on.</summary>
    public IPNetwork Network => new(MaskHostBits(Address, PrefixLength), PrefixLength);

    /// <summary>Parses <c>address/prefix</c> (the prefix defaults to the full length if missing).</summary>
    /// <exception cref="FormatException">The text is not an address with an optional valid prefix length.</exception>
    public static InterfaceAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out InterfaceAddress result))
        {
            throw new FormatException($"Expected an IP address with prefix length such as '198.19.0.1/16' or '2001:2::1/64'; got '{text}'.");
        }

        return result;
    }

    /// <summary>Tries to parse <c>address/prefix</c>.</summary>
    public static bool TryParse(string? text, out InterfaceAddress result)
    {
        result = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressPart = slash < 0 ? text : text[..slash];
        // IPAddress.TryParse accepts inet_aton shorthands such as "198.19.0"; a config typo must not become 198.19.0.0.
        if (!IPAddress.TryParse(addressPart, out IPAddress? address)
            || (address.AddressFamily == AddressFamily.InterNetwork && addressPart.Count(c => c == '.') != 3))
        {
            return false;
        }

        int max = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        int prefix = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max))
        {
            return false;
        }

        result = new InterfaceAddress(address, prefix);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Address}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";

    private static IPAddress MaskHostBits(IPAddress address, int prefixLength)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int bitsInByte = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bitsInByte));
        }

        return new IPAddress(bytes);
    }
}
