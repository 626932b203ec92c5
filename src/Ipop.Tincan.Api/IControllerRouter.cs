using System.Net;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api;

/// <summary>
/// A packet router whose table a controller edits through the API (<c>route.set</c>, <c>route.remove</c>):
/// IP prefixes to links for a TUN interface, MAC addresses to links for a TAP interface.
/// </summary>
/// <remarks>
/// <para>
/// The server calls the prefix methods only for TUN interfaces and the MAC and ring-position methods only for TAP
/// interfaces, so an implementation may throw <see cref="NotSupportedException"/> for the other kind.
/// Writers are serialized by the server; <see cref="IPacketRouter"/> reads must stay lock-free.
/// </para>
/// <para>
/// The overlay-forwarding members (<see cref="SetForwardingRoute"/>, <see cref="SetLocal"/>, <see cref="SetUnreachable"/>,
/// <see cref="GetForwardedPackets"/>; docs/routing.md) came later: their default implementations throw
/// <see cref="NotSupportedException"/>, which the server answers with <c>unsupported</c>, so a router written before
/// them keeps compiling and working for direct routes. The same holds for the structured-overlay members of a TAP
/// router (<see cref="SetRingPosition(ulong)"/>, <see cref="SetRingPosition(ITincanLink, ulong)"/>,
/// <see cref="SetMacForwardingRoute"/>, <see cref="RemoveMacForwardingRoute"/>; docs/routing.md, "TAP mode").
/// </para>
/// </remarks>
public interface IControllerRouter : IPacketRouter
{
    /// <summary>Routes packets for <paramref name="prefix"/> to <paramref name="link"/>, replacing a route for the same prefix.</summary>
    void SetRoute(IPNetwork prefix, ITincanLink link);

    /// <summary>Removes the route (of any kind: direct, forwarding, local or unreachable) for exactly <paramref name="prefix"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    bool RemoveRoute(IPNetwork prefix);

    /// <summary>Sends frames for <paramref name="mac"/> to <paramref name="link"/> (a static switch entry).</summary>
    void SetMacRoute(PhysicalAddress mac, ITincanLink link);

    /// <summary>Removes the static entry for <paramref name="mac"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    bool RemoveMacRoute(PhysicalAddress mac);

    /// <summary>Removes every route and learned entry that points to <paramref name="link"/> (the link was removed).</summary>
    void RemoveRoutes(ITincanLink link);

    /// <summary>
    /// Routes <paramref name="prefix"/>, a member without a direct link, through <paramref name="nextHop"/> (a member
    /// that passes the packets on), replacing a route for the same prefix; see <see cref="RouteTable.SetForwardingRoute"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The router does not forward (the default).</exception>
    void SetForwardingRoute(IPNetwork prefix, ITincanLink nextHop) =>
        throw new NotSupportedException($"{GetType().Name} does not implement forwarding routes (IControllerRouter.SetForwardingRoute).");

    /// <summary>
    /// Marks <paramref name="prefix"/> (a /32 or /128: this node's own address) as local, which turns forwarding
    /// on; see <see cref="RouteTable.SetLocal"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The router does not forward (the default).</exception>
    void SetLocal(IPNetwork prefix) =>
        throw new NotSupportedException($"{GetType().Name} does not implement local prefixes (IControllerRouter.SetLocal).");

    /// <summary>
    /// Marks <paramref name="prefix"/> (typically the overlay subnet) as reachable only through more specific routes:
    /// a packet for an address in it without a route is answered with ICMP unreachable; see <see cref="RouteTable.SetUnreachable"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The router does not implement it (the default).</exception>
    void SetUnreachable(IPNetwork prefix) =>
        throw new NotSupportedException($"{GetType().Name} does not implement unreachable prefixes (IControllerRouter.SetUnreachable).");

    /// <summary>
    /// How many packets read from the interface went out through the forwarding route for exactly
    /// <paramref name="prefix"/>; see <see cref="RouteTable.GetForwardedPackets"/>.
    /// </summary>
    /// <returns>The count, or <c>null</c> when <paramref name="prefix"/> has no forwarding route.</returns>
    /// <exception cref="NotSupportedException">The router does not count (the default).</exception>
    long? GetForwardedPackets(IPNetwork prefix) =>
        throw new NotSupportedException($"{GetType().Name} does not count forwarded packets (IControllerRouter.GetForwardedPackets).");

    /// <summary>
    /// Structured overlays in TAP mode: routes frames for <paramref name="mac"/>, the MAC of a member without a connected
    /// link, through <paramref name="nextHop"/> (a member that passes them on), replacing a forwarding route for the same
    /// MAC; see <see cref="LearningSwitch.SetMemberRoute"/>. A static entry for <paramref name="mac"/>
    /// (<see cref="SetMacRoute"/>) is a separate entry; the server keeps one of the two per MAC, removing the other once
    /// the new one is set. Removing the next hop's routes (<see cref="RemoveRoutes"/>) removes this one.
    /// </summary>
    /// <exception cref="ArgumentException">The router refuses <paramref name="mac"/> (this node's own MAC address); the message says why.</exception>
    /// <exception cref="NotSupportedException">The router does not route members' MACs through next hops (the default).</exception>
    void SetMacForwardingRoute(PhysicalAddress mac, ITincanLink nextHop) =>
        throw new NotSupportedException($"{GetType().Name} does not implement MAC forwarding routes (IControllerRouter.SetMacForwardingRoute).");

    /// <summary>
    /// Removes the forwarding route for <paramref name="mac"/> (<see cref="SetMacForwardingRoute"/>): frames for it are
    /// switched as before, to a learned station or flooded. A static entry for it is not touched.
    /// </summary>
    /// <returns><c>false</c> if there was none.</returns>
    /// <exception cref="NotSupportedException">The router does not route members' MACs through next hops (the default).</exception>
    bool RemoveMacForwardingRoute(PhysicalAddress mac) =>
        throw new NotSupportedException($"{GetType().Name} does not implement MAC forwarding routes (IControllerRouter.RemoveMacForwardingRoute).");

    /// <summary>
    /// Structured overlays in TAP mode: this node's ring position, which makes frames cross members (broadcasts as a
    /// bounded flood along the ring); see <see cref="LearningSwitch.SetRingPosition(ulong)"/>.
    /// </summary>
    /// <param name="position">The node's 64-bit ring position, as the controller orders the ring.</param>
    /// <exception cref="NotSupportedException">The router does not forward frames between members (the default).</exception>
    void SetRingPosition(ulong position) =>
        throw new NotSupportedException($"{GetType().Name} does not implement ring positions (IControllerRouter.SetRingPosition(ulong)).");

    /// <summary>
    /// Structured overlays in TAP mode: the ring position of the member at the other end of <paramref name="link"/>,
    /// replacing an earlier one; see <see cref="LearningSwitch.SetRingPosition(ITincanLink, ulong)"/>. Removing the
    /// link's routes (<see cref="RemoveRoutes"/>) forgets it.
    /// </summary>
    /// <param name="link">A link to a member.</param>
    /// <param name="position">That member's 64-bit ring position.</param>
    /// <exception cref="NotSupportedException">The router does not forward frames between members (the default).</exception>
    void SetRingPosition(ITincanLink link, ulong position) =>
        throw new NotSupportedException($"{GetType().Name} does not implement ring positions (IControllerRouter.SetRingPosition(ITincanLink, ulong)).");
}
