using System.Collections.Immutable;
using System.Net;
using System.Text;

namespace Ipop.Controllers.GroupVpn;

/// <summary>
/// What a GroupVPN member publishes with its presence (<see cref="IOverlaySignaling.SetAnnouncementAsync"/>): its
/// overlay addresses, as <c>a=198.19.0.5 a=2001:2::5</c>. In a structured group most members have no link to each
/// other, so link negotiation cannot tell them each other's addresses; the presence the server fans out to the whole
/// room can, at no extra message. Tokens other than <c>a=</c> are ignored, so later versions can add some.
/// </summary>
internal static class MemberAnnouncement
{
    /// <summary>The most addresses read from one announcement (a member has one IPv4 and at most one IPv6 address).</summary>
    public const int MaxAddresses = 4;

    /// <summary>The announcement of <paramref name="addresses"/>.</summary>
    public static string Format(IEnumerable<InterfaceAddress> addresses)
    {
        var text = new StringBuilder();
        foreach (InterfaceAddress a in addresses)
        {
            text.Append(text.Length == 0 ? "a=" : " a=").Append(a.Address);
        }

        return text.ToString();
    }

    /// <summary>Reads the addresses of an announcement.</summary>
    /// <param name="text">The announcement (<c>null</c>: none).</param>
    /// <param name="problem">What was wrong with a token that was skipped, or <c>null</c>.</param>
    public static ImmutableArray<IPAddress> Parse(string? text, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        ImmutableArray<IPAddress>.Builder addresses = ImmutableArray.CreateBuilder<IPAddress>();
        foreach (string token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
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
}
