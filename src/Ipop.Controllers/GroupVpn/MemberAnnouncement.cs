using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using Ipop.Controllers.Negotiation;

namespace Ipop.Controllers.GroupVpn;

/// <summary>
/// What a GroupVPN member publishes with its presence (<see cref="IOverlaySignaling.SetAnnouncementAsync"/>): its
/// overlay addresses, as <c>a=198.19.0.5 a=2001:2::5</c>. In a structured group most members have no link to each
/// other, so link negotiation cannot tell them each other's addresses; the presence the server fans out to the whole
/// room can, at no extra message. In switch mode the member's MAC follows, as <c>m=02:00:5e:00:53:05</c>: members route
/// each other's MACs by ring position as they route addresses (docs/routing.md, "TAP mode"). Other tokens are ignored,
/// so later versions can add some.
/// </summary>
internal static class MemberAnnouncement
{
    /// <summary>The most addresses read from one announcement (a member has one IPv4 and at most one IPv6 address).</summary>
    public const int MaxAddresses = 4;

    /// <summary>The announcement of <paramref name="addresses"/> and, in switch mode, the interface's <paramref name="mac"/>.</summary>
    public static string Format(IEnumerable<InterfaceAddress> addresses, PhysicalAddress? mac = null)
    {
        var text = new StringBuilder();
        foreach (InterfaceAddress a in addresses)
        {
            text.Append(text.Length == 0 ? "a=" : " a=").Append(a.Address);
        }

        if (mac is not null)
        {
            text.Append(text.Length == 0 ? "m=" : " m=").Append(MacText.Format(mac));
        }

        return text.ToString();
    }

    /// <summary>Reads the addresses of an announcement.</summary>
    /// <param name="text">The announcement (<c>null</c>: none).</param>
    /// <param name="problem">What was wrong with a token that was skipped, or <c>null</c>.</param>
    public static ImmutableArray<IPAddress> Parse(string? text, out string? problem) => Parse(text, out _, out problem);

    /// <summary>Reads the addresses and the MAC of an announcement.</summary>
    /// <param name="text">The announcement (<c>null</c>: none).</param>
    /// <param name="mac">The member's MAC (switch mode), or <c>null</c> when it announced none or not a unicast one.</param>
    /// <param name="problem">What was wrong with a token that was skipped, or <c>null</c>.</param>
    public static ImmutableArray<IPAddress> Parse(string? text, out PhysicalAddress? mac, out string? problem)
    {
        problem = null;
        mac = null;
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        ImmutableArray<IPAddress>.Builder addresses = ImmutableArray.CreateBuilder<IPAddress>();
        foreach (string token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.StartsWith("m=", StringComparison.Ordinal))
            {
                mac = ParseMac(token, ref problem) ?? mac;
                continue;
            }

            if (!token.StartsWith("a=", StringComparison.Ordinal))
            {
                continue;
            }

            if (!IPAddress.TryParse(token.AsSpan(2), out IPAddress? address))
            {
                problem = $"'{token}' is not an address";
            }
            else if (addresses.Count == MaxAddresses)
            {
                problem = $"more than {MaxAddresses} addresses";
                break;
            }
            else if (!addresses.Contains(address))
            {
                addresses.Add(address);
            }
        }

        return addresses.ToImmutable();
    }

    /// <summary>A unicast MAC in colon form (<c>m=02:00:5e:00:53:05</c>), or <c>null</c> with <paramref name="problem"/> set.</summary>
    private static PhysicalAddress? ParseMac(string token, ref string? problem)
    {
        ReadOnlySpan<char> text = token.AsSpan(2);
        if (text.Length != 17 || text.Count(':') != 5 || !PhysicalAddress.TryParse(text, out PhysicalAddress? mac) || mac.GetAddressBytes() is not [var first, ..] || (first & 1) != 0)
        {
            problem = $"'{token}' is not a unicast MAC address such as m=02:00:5e:00:53:05";
            return null;
        }

        if (mac.GetAddressBytes().All(b => b == 0))
        {
            problem = $"'{token}' is the all-zero MAC address";
            return null;
        }

        return mac;
    }
}
