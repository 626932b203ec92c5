using System.Net;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api;

/// <summary>
/// A packet router whose table a controller edits through the API (<c>route.set</c>, <c>route.remove</c>):
/// IP prefixes to links for a TUN interface, MAC addresses to links for a TAP interface.
/// </summary>
/// <remarks>
/// The server calls the prefix methods only for TUN interfaces and the MAC methods only for TAP
/// interfaces, so an implementation may throw <see cref="NotSupportedException"/> for the other kind.
/// Writers are serialized by the server; <see cref="IPacketRouter"/> reads must stay lock-free.
/// </remarks>
public interface IControllerRouter : IPacketRouter
{
    /// <summary>Routes packets for <paramref name="prefix"/> to <paramref name="link"/>, replacing a route for the same prefix.</summary>
    void SetRoute(IPNetwork prefix, ITincanLink link);

    /// <summary>Removes the route for exactly <paramref name="prefix"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    bool RemoveRoute(IPNetwork prefix);

    /// <summary>Sends frames for <paramref name="mac"/> to <paramref name="link"/> (a static switch entry).</summary>
    void SetMacRoute(PhysicalAddress mac, ITincanLink link);

    /// <summary>Removes the static entry for <paramref name="mac"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    bool RemoveMacRoute(PhysicalAddress mac);

    /// <summary>Removes every route and learned entry that points to <paramref name="link"/> (the link was removed).</summary>
    void RemoveRoutes(ITincanLink link);
}
