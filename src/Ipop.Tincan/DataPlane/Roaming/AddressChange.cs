using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.DataPlane.Roaming;

/// <summary>An address <paramref name="Address"/> was added to (or removed from) interface <paramref name="InterfaceIndex"/>.</summary>
internal readonly record struct AddressChange(bool Added, int InterfaceIndex, IPAddress Address)
{
    /// <summary>
    /// True for an address that can carry underlay traffic to peers: not IPv6 link-local (every interface gets one as it
    /// comes up, and candidates never use them) and not loopback.
    /// </summary>
    public bool IsUsable => !IPAddress.IsLoopback(Address) && !(Address.AddressFamily == AddressFamily.InterNetworkV6 && Address.IsIPv6LinkLocal);
}
