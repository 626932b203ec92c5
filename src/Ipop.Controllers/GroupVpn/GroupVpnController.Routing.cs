using System.Net;
using System.Net.Sockets;
using Ipop.Controllers.GroupVpn;
using Ipop.Controllers.Negotiation;
using Ipop.Tincan;

namespace Ipop.Controllers;

/// <summary>
/// Routing: who holds which address, and the route to each (its link, or in a structured group the next hop towards
/// it), kept current incrementally as claims, links and away members change.
/// </summary>
public sealed partial class GroupVpnController
{
    /// <summary>
    /// Re-routes once the events queued now are handled: a change of links re-routes every member (O(N)), and the links
    /// of a member that just joined a big group, or of its neighbours, come up together; one re-route for them all.
    /// </summary>
    private void QueueReroute()
    {
        if (Interlocked.Exchange(ref _rerouteQueued, 1) == 1)
        {
            return;
        }

        _negotiator.Post(_reroute ??= _ =>
        {
            Interlocked.Exchange(ref _rerouteQueued, 0); // a link change from now on queues another
            Reroute(full: false);
            return Task.CompletedTask;
        });
    }

    /// <summary>Tests: re-routes every held address at once, which the queued, incremental re-routes must agree with.</summary>
    internal void RerouteAll() => ApplyOwnership();

    /// <summary>Resolves who holds which address and routes exactly the held ones to their holders' links.</summary>
    private void ApplyOwnership() => Reroute(full: true);

    /// <summary>
    /// <see cref="ApplyOwnership"/>; with <paramref name="full"/> false (a queued re-route), only the addresses whose
    /// holder changed are routed again when the connected links are the ones the last re-route used: in a structured
    /// group of N members a join or leave far away changes one member's route, and re-routing all N members at every
    /// member after every such change made it O(N²) work in the group. Any change of connected links (the next hops)
    /// re-routes everything, as does a mesh.
    /// </summary>
    private void Reroute(bool full)
    {
        var changed = new HashSet<IPAddress>();
        foreach (AddressOwnership.Refusal r in _owners.Resolve(_addresses.Select(a => a.Address), changed))
        {
            if (r.Holder is { } holder)
            {
                LogClaimRefused(_logger, r.Claimant.Value, r.Address.ToString(), holder.Value);
            }
            else
            {
                LogClaimOfOurs(_logger, r.Claimant.Value, r.Address.ToString());
            }
        }

        ApplyLocalPrefixes();
        NextHops? candidates = _structured ? ConnectedNeighbours() : null;
        if (full || !_structured || !_routedStructured || !SameConnectedLinks())
        {
            RerouteAll(candidates);
            return;
        }

        // New routes first, then the stale ones (as RerouteAll): a route that changes hands never leaves a gap.
        var affected = new HashSet<PeerId>(_rerouteMembers);
        foreach (PeerId member in _rerouteMembers)
        {
            if (_members.TryGetValue(member, out GroupMemberStatus? status))
            {
                foreach (InterfaceAddress a in status.Addresses)
                {
                    changed.Add(a.Address);
                }
            }
        }

        List<IPNetwork>? stale = null;
        foreach (IPAddress address in changed)
        {
            IPNetwork prefix = HostPrefix(address);
            if (_owners.Held.TryGetValue(address, out PeerId holder) && DesiredRoute(holder, candidates) is { } route)
            {
                affected.Add(holder);
                if (!_desired.TryGetValue(prefix, out (ITincanLink Link, PeerId? Via) before) || !ReferenceEquals(before.Link, route.Link))
                {
                    SetRoute(prefix, route.Link, route.Via);
                }

                _desired[prefix] = route;
            }
            else if (_desired.Remove(prefix))
            {
                (stale ??= []).Add(prefix);
            }
        }

        foreach (PeerId member in affected)
        {
            if (_members.TryGetValue(member, out GroupMemberStatus? s))
            {
                UpdateVia(member, s);
            }
        }

        foreach (IPNetwork prefix in stale ?? [])
        {
            _routes.RemoveRoute(prefix);
        }

        if (RoutesMacs)
        {
            foreach (PeerId member in affected)
            {
                RouteMemberMac(member, candidates);
            }
        }

        ClearRerouteMembers();
    }

    /// <summary>Routes every held address (the whole of <see cref="ApplyOwnership"/> before it became incremental).</summary>
    private void RerouteAll(NextHops? candidates)
    {
        _desired.Clear();
        foreach ((IPAddress address, PeerId holder) in _owners.Held)
        {
            if (DesiredRoute(holder, candidates) is { } route)
            {
                _desired[HostPrefix(address)] = route;
            }
        }

        // New routes first, then the stale ones: a route that changes hands never leaves a gap.
        IReadOnlyList<(IPNetwork Prefix, ITincanLink? Link)> routes = _routes.GetRoutes();
        var current = new Dictionary<IPNetwork, ITincanLink?>(routes.Count);
        foreach ((IPNetwork prefix, ITincanLink? link) in routes)
        {
            current.TryAdd(prefix, link);
        }

        foreach ((IPNetwork prefix, (ITincanLink link, PeerId? via)) in _desired)
        {
            if (!current.TryGetValue(prefix, out ITincanLink? now) || !ReferenceEquals(now, link))
            {
                SetRoute(prefix, link, via);
            }
        }

        foreach ((PeerId member, GroupMemberStatus s) in _members)
        {
            UpdateVia(member, s);
        }

        foreach ((IPNetwork prefix, ITincanLink? link) in routes)
        {
            if (link is not null && !_desired.ContainsKey(prefix))
            {
                _routes.RemoveRoute(prefix);
            }
        }

        _routedLinks.Clear();
        foreach ((PeerId peer, ITincanLink link) in _linkOf)
        {
            if (IsNextHop(peer, link))
            {
                _routedLinks[peer] = link;
            }
        }

        if (RoutesMacs)
        {
            RouteMemberMacs(candidates);
        }

        _routedStructured = _structured;
        ClearRerouteMembers();
    }

    /// <summary>
    /// Where <paramref name="holder"/>'s addresses go. A mesh routes a member's addresses to its link as soon as the
    /// link exists. A structured group routes them to its link once that is connected, and until then (or without one)
    /// to the next hop towards it.
    /// </summary>
    private (ITincanLink Link, PeerId? Via)? DesiredRoute(PeerId holder, NextHops? candidates)
    {
        if (_linkOf.TryGetValue(holder, out ITincanLink? link) && (!_structured || link.Status.State == LinkState.Connected))
        {
            return (link, null);
        }

        return candidates is not null && NextHop(holder, candidates) is { } hop ? (hop.Link, hop.Via) : null;
    }

    private void SetRoute(IPNetwork prefix, ITincanLink link, PeerId? via)
    {
        if (via is null)
        {
            _routes.SetRoute(prefix, link);
        }
        else
        {
            _routes.SetForwardingRoute(prefix, link);
        }
    }

    private void UpdateVia(PeerId member, GroupMemberStatus s)
    {
        PeerId? via = s.Addresses.Count > 0 && _desired.TryGetValue(HostPrefix(s.Addresses[0].Address), out var d) ? d.Via : null;
        if (s.Via != via)
        {
            _members[member] = s with { Via = via };
        }
    }

    private void ClearRerouteMembers()
    {
        // A group coming online adds all N members here before the first re-route; a cleared set keeps its capacity,
        // and clearing it again at every later re-route (one per claim) would zero N buckets each time.
        bool large = _rerouteMembers.Count > 64;
        _rerouteMembers.Clear();
        if (large)
        {
            _rerouteMembers.TrimExcess();
        }
    }

    /// <summary>Whether the connected links are exactly those the last full re-route used (so every next hop is the same).</summary>
    private bool SameConnectedLinks()
    {
        int connected = 0;
        foreach ((PeerId peer, ITincanLink link) in _linkOf)
        {
            if (IsNextHop(peer, link))
            {
                connected++;
                if (!_routedLinks.TryGetValue(peer, out ITincanLink? routed) || !ReferenceEquals(routed, link))
                {
                    return false;
                }
            }
        }

        return connected == _routedLinks.Count;
    }

    /// <summary>Whether <paramref name="link"/> to <paramref name="peer"/> may carry packets for other members.</summary>
    private bool IsNextHop(PeerId peer, ITincanLink link) => link.Status.State == LinkState.Connected && !_away.Contains(peer);

    void INegotiationPolicy.OnPeerAway(PeerId peer, bool away)
    {
        // The set is kept in a mesh too (a switch to structured re-routes everything with it); only next hops use it.
        if ((away ? _away.Add(peer) : _away.Remove(peer)) && _structured)
        {
            LogAwayNextHop(_logger, peer.Value, away ? "no longer forwards for others while it is away" : "forwards for others again");
            Reroute(full: false); // the next hops changed: SameConnectedLinks sees it and re-routes everything
        }
    }

    private static IPNetwork HostPrefix(IPAddress a) => new(a, a.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
}
