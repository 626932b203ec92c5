using System.Collections.Concurrent;
using System.Net.NetworkInformation;

namespace Ipop.Tincan;

/// <summary>
/// Member routes (structured overlays in switch mode, docs/routing.md "TAP mode"): the negotiated MAC of a member this
/// node has no connected link to goes to the next hop the controller chose by ring position, as a TUN member's addresses
/// do, instead of wherever floods taught the switch it was.
/// </summary>
/// <remarks>
/// Learning from floods finds a path to every station, but the path is whatever link a flood copy happened to arrive
/// on. While links come and go (a group starting up re-plans them) such a path can go stale at one member while its
/// neighbours still send through it, and frames then circle or die. A member's MAC is known from its presence
/// announcement, and its ring position from its id, so greedy ring routing gives every member a next hop that makes
/// progress towards it, consistent across members. Learning stays for stations behind a member's bridge, whose MACs
/// nobody announces.
/// </remarks>
public sealed partial class LearningSwitch
{
    private readonly ConcurrentDictionary<ulong, MemberRoute> _memberRoutes = new();

    /// <summary>
    /// Routes frames for <paramref name="mac"/>, the MAC a member announced, through <paramref name="nextHop"/> (a member
    /// that passes them on), replacing an earlier route for it. A connected link bound to <paramref name="mac"/> still
    /// wins: this is the route for while there is none. A station learned for the MAC is forgotten, and frames from it
    /// that arrive forwarded are accepted on any link without being learned.
    /// </summary>
    /// <returns><c>false</c> (nothing changed) when <paramref name="mac"/> is this node's own or a group address.</returns>
    public bool SetMemberRoute(PhysicalAddress mac, ITincanLink nextHop)
    {
        ArgumentNullException.ThrowIfNull(nextHop);
        ulong key = ToKey(mac);
        if ((key & GroupBit) != 0)
        {
            return false; // a group address is flooded, never routed
        }

        lock (_evictGate)
        {
            if (_stations.TryGetValue(key, out Station? station))
            {
                if (station.Bound && station.Link is null)
                {
                    return false;
                }

                if (!station.Bound && _stations.TryRemove(KeyValuePair.Create(key, station)))
                {
                    Interlocked.Decrement(ref _learned);
                }
            }

            // A new next hop keeps the count: the controller reads it as a rate towards the member, wherever it goes.
            long packets = _memberRoutes.TryGetValue(key, out MemberRoute? before) ? Interlocked.Read(ref before.OutboundPackets) : 0;
            _memberRoutes[key] = new MemberRoute(nextHop, packets);
            return true;
        }
    }

    /// <summary>Removes the member route for <paramref name="mac"/>: frames for it are switched as before (learned or flooded).</summary>
    /// <returns><c>false</c> if there was none.</returns>
    public bool RemoveMemberRoute(PhysicalAddress mac) => _memberRoutes.TryRemove(ToKey(mac), out _);

    /// <summary>
    /// How many frames read from the interface went out through the member route for <paramref name="mac"/> (for
    /// on-demand links, as <see cref="RouteTable.GetForwardedPackets"/> for a TUN member).
    /// </summary>
    /// <returns>The count, or <c>null</c> when <paramref name="mac"/> has no member route.</returns>
    public long? GetMemberRoutePackets(PhysicalAddress mac) =>
        _memberRoutes.TryGetValue(ToKey(mac), out MemberRoute? route) ? Interlocked.Read(ref route.OutboundPackets) : null;

    /// <summary>The member route for <paramref name="mac"/> if its next hop's link is up, or <c>null</c>.</summary>
    private MemberRoute? ConnectedMemberRoute(ulong mac) =>
        _memberRoutes.TryGetValue(mac, out MemberRoute? route) && route.Link.Status.State == LinkState.Connected ? route : null;

    /// <summary>Removes the member routes through <paramref name="link"/> (called under the eviction gate by <see cref="Forget"/>).</summary>
    private void ForgetMemberRoutes(ITincanLink link)
    {
        foreach (KeyValuePair<ulong, MemberRoute> pair in _memberRoutes)
        {
            if (ReferenceEquals(pair.Value.Link, link))
            {
                _memberRoutes.TryRemove(pair);
            }
        }
    }

    private sealed class MemberRoute(ITincanLink link, long packets)
    {
        public readonly ITincanLink Link = link;

        /// <summary>Frames from the interface sent through this route (one reading thread per interface: uncontended).</summary>
        public long OutboundPackets = packets;
    }
}
