using System.Globalization;
using System.Net.NetworkInformation;

namespace Ipop.Controllers.Negotiation;

/// <summary>A MAC address as members write it to each other: lower-case hex pairs joined by colons (<c>02:00:5e:00:53:05</c>).</summary>
internal static class MacText
{
    public static string Format(PhysicalAddress mac) => string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
}
