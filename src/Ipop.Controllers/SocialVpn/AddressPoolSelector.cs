using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// Chooses the private IPv4 pool of a SocialVPN node: the first candidate that overlaps no subnet the
/// host already uses (interface addresses and routes), so the overlay never shadows a local network.
/// </summary>
internal static class AddressPoolSelector
{
    /// <summary>
    /// The default candidates, in 198.19.0.0/16 (RFC 2544 benchmarking space, which LANs do not use): first the /20s
    /// from 198.19.96.0 to 198.19.240.0 (4,093 friend devices each, issue 16), then, for a host whose subnets overlap
    /// every one of them, the /24s from 198.19.100.0 to 198.19.159.0 (253 each, the pools before issue 16).
    /// </summary>
    public static IReadOnlyList<IPNetwork> DefaultCandidates { get; } =
    [
        .. Enumerable.Range(6, 10).Select(i => IPNetwork.Parse(string.Create(CultureInfo.InvariantCulture, $"198.19.{i * 16}.0/20"))),
        .. Enumerable.Range(100, 60).Select(i => IPNetwork.Parse(string.Create(CultureInfo.InvariantCulture, $"198.19.{i}.0/24"))),
    ];

    /// <summary>The first candidate that overlaps none of <paramref name="inUse"/>.</summary>
    /// <exception cref="InvalidOperationException">Every candidate overlaps a subnet in use.</exception>
    public static IPNetwork Select(IEnumerable<IPNetwork> candidates, IReadOnlyCollection<IPNetwork> inUse)
    {
        foreach (IPNetwork candidate in candidates)
        {
            if (!inUse.Any(used => Overlaps(candidate, used)))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"Every candidate address pool overlaps a subnet in use on this host ({string.Join(", ", inUse)}); configure SocialVpn:Pool.");
    }

    /// <summary>Two prefixes overlap when the shorter one contains the other's base address.</summary>
    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily
        && (a.PrefixLength <= b.PrefixLength ? a.Contains(b.BaseAddress) : b.Contains(a.BaseAddress));

    /// <summary>The IPv4 subnets on this host's interfaces and in its main routing table (default route excluded), excluding <paramref name="ignoreInterface"/>.</summary>
    public static IReadOnlyCollection<IPNetwork> HostSubnets(string? ignoreInterface = null)
    {
        var result = new List<IPNetwork>();
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.Name == ignoreInterface || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (UnicastIPAddressInformation a in nic.GetIPProperties().UnicastAddresses)
            {
                if (a.Address.AddressFamily == AddressFamily.InterNetwork)
                {
                    result.Add(new InterfaceAddress(a.Address, a.PrefixLength).Network);
                }
            }
        }

        // /proc/net/route: Iface, Destination, Gateway, Flags, ..., Mask — little-endian hex.
        const string routes = "/proc/net/route";
        if (File.Exists(routes))
        {
            foreach (string line in File.ReadLines(routes).Skip(1))
            {
                string[] f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (f.Length < 8 || f[0] == ignoreInterface
                    || !uint.TryParse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint dst)
                    || !uint.TryParse(f[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint mask) || mask == 0)
                {
                    continue;
                }

                int prefix = System.Numerics.BitOperations.PopCount(mask);
                result.Add(new IPNetwork(new IPAddress(dst), prefix));
            }
        }

        return result.Distinct().ToList();
    }
}
