using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ipop.Tap;

/// <summary>Checks <see cref="VirtualInterfaceOptions"/> before any system call, with messages that name the field.</summary>
internal static class VirtualInterfaceOptionsValidator
{
    /// <summary>MIN_MTU in drivers/net/tun.c (the IPv4 minimum, RFC 791).</summary>
    internal const int MinMtu = 68;

    /// <summary>MAX_MTU in drivers/net/tun.c.</summary>
    internal const int MaxTunMtu = 65535;

    /// <summary>A TAP's maximum is MAX_MTU minus the 14-byte Ethernet header (tun_net_initialize).</summary>
    internal const int MaxTapMtu = 65535 - 14;

    /// <summary>IPv6 requires links to carry 1280-byte packets (RFC 8200 section 5); below it the kernel drops IPv6 from the device.</summary>
    internal const int MinIpv6Mtu = 1280;

    /// <summary>IFNAMSIZ - 1.</summary>
    internal const int MaxNameBytes = 15;

    /// <exception cref="VirtualInterfaceException">An option is invalid; the message names it.</exception>
    public static void Validate(VirtualInterfaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Enum.IsDefined(options.Mode))
        {
            throw Invalid($"VirtualInterfaceOptions.Mode: {options.Mode} is not a mode; use Tun or Tap.");
        }

        ValidateName(options.Name);

        if (options.Addresses is null)
        {
            throw Invalid("VirtualInterfaceOptions.Addresses must not be null; use an empty list for none.");
        }

        bool hasIpv6 = false;
        var seen = new HashSet<InterfaceAddress>();
        for (int i = 0; i < options.Addresses.Count; i++)
        {
            InterfaceAddress address = options.Addresses[i];
            if (address.Address is null)
            {
                throw Invalid($"VirtualInterfaceOptions.Addresses[{i}] is an empty InterfaceAddress (default value); give an address such as 198.19.0.1/16.");
            }

            if (address.Address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                throw Invalid($"VirtualInterfaceOptions.Addresses[{i}]: {address} is neither IPv4 nor IPv6.");
            }

            if (address.Address.Equals(IPAddress.Any) || address.Address.Equals(IPAddress.IPv6Any)
                || address.Address.Equals(IPAddress.Broadcast) || address.Address.IsIPv6Multicast
                || (address.Address.AddressFamily == AddressFamily.InterNetwork && (address.Address.GetAddressBytes()[0] & 0xF0) == 0xE0))
            {
                throw Invalid($"VirtualInterfaceOptions.Addresses[{i}]: {address} is not a unicast address.");
            }

            if (!seen.Add(address))
            {
                throw Invalid($"VirtualInterfaceOptions.Addresses[{i}]: {address} is listed twice.");
            }

            hasIpv6 |= address.Address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        ValidateMtu(options.Mode, options.Mtu, hasIpv6, "VirtualInterfaceOptions.Mtu");

        if (options.BridgeName is { Length: > 0 } && options.Mode != VirtualInterfaceMode.Tap)
        {
            throw Invalid("VirtualInterfaceOptions.BridgeName is only valid for a TAP interface: a bridge switches Ethernet frames, and a TUN device carries none.");
        }

        if (options.MacAddress is { } mac)
        {
            if (options.Mode != VirtualInterfaceMode.Tap)
            {
                throw Invalid("VirtualInterfaceOptions.MacAddress is only valid for a TAP interface; a TUN interface has no link-layer address.");
            }

            ValidateMac(mac.GetAddressBytes());
        }
    }

    internal static void ValidateName(string? name)
    {
        if (name is null)
        {
            throw Invalid("VirtualInterfaceOptions.Name must not be null; use an empty string to let the kernel pick one.");
        }

        if (name.Length == 0)
        {
            return;
        }

        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxNameBytes)
        {
            throw Invalid($"VirtualInterfaceOptions.Name: '{name}' is {bytes} bytes long; Linux interface names are at most {MaxNameBytes} bytes.");
        }

        // dev_valid_name() in net/core/dev.c; "%d" is allowed and replaced by the kernel with a free number.
        if (name is "." or "..")
        {
            throw Invalid($"VirtualInterfaceOptions.Name: '{name}' is not a valid interface name.");
        }

        foreach (char c in name)
        {
            if (c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                throw Invalid($"VirtualInterfaceOptions.Name: '{name}' contains '{(char.IsControl(c) ? "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture) : c.ToString())}'; interface names cannot contain '/', ':' or whitespace.");
            }
        }
    }

    internal static void ValidateMtu(VirtualInterfaceMode mode, int mtu, bool hasIpv6, string field)
    {
        int max = mode == VirtualInterfaceMode.Tap ? MaxTapMtu : MaxTunMtu;
        string kind = mode == VirtualInterfaceMode.Tap ? "TAP" : "TUN";
        if (mtu < MinMtu || mtu > max)
        {
            throw Invalid($"{field}: {mtu} is out of range; a {kind} interface's MTU must be between {MinMtu} and {max}.");
        }

        if (hasIpv6 && mtu < MinIpv6Mtu)
        {
            throw Invalid($"{field}: {mtu} is below {MinIpv6Mtu}, the minimum MTU for IPv6 (RFC 8200), and the interface has IPv6 addresses.");
        }
    }

    private static void ValidateMac(byte[] mac)
    {
        string text = string.Join(':', mac.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        if (mac.Length != 6)
        {
            throw Invalid($"VirtualInterfaceOptions.MacAddress: '{text}' has {mac.Length} bytes; an Ethernet MAC address has 6.");
        }

        if ((mac[0] & 0x01) != 0)
        {
            throw Invalid($"VirtualInterfaceOptions.MacAddress: {text} is a multicast address (lowest bit of the first byte set); use a unicast one such as 02:00:00:00:00:01.");
        }

        if (mac.All(b => b == 0))
        {
            throw Invalid("VirtualInterfaceOptions.MacAddress: 00:00:00:00:00:00 is not a valid interface address.");
        }
    }

    private static VirtualInterfaceException Invalid(string message) => new(message);
}
