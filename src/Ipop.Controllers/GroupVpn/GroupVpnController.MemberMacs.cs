using System.Net.NetworkInformation;
using Ipop.Tincan;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// Switch mode in a structured group: each member's announced MAC goes where its addresses go, to its connected link or
/// to the next hop towards it by ring position (a member route in the <see cref="LearningSwitch"/>, docs/routing.md
/// "TAP mode"). Without them the switch would reach a member through whichever link a flood taught it, and such paths go
/// stale while a starting group re-plans its links.
/// </summary>
public sealed partial class GroupVpnController
{
    /// <summary>The member route each member's MAC has in the switch now (structured switch mode only).</summary>
    private readonly Dictionary<PeerId, (PhysicalAddress Mac, ITincanLink Link)> _macRoutes = [];

    /// <summary>Switch mode: members announce their MACs and route each other's by ring position.</summary>
    private bool RoutesMacs => _options.Mode == "tap";

    /// <summary>Routes every announced member's MAC (a full re-route), and drops the routes of members no longer announced.</summary>
    private void RouteMemberMacs(NextHops? candidates)
    {
        foreach (PeerId member in _announced.Keys)
        {
            RouteMemberMac(member, candidates);
        }

        if (_macRoutes.Count > _announced.Count)
        {
            foreach (PeerId gone in _macRoutes.Keys.Where(m => !_announced.ContainsKey(m)).ToList())
            {
                ForgetMemberMac(gone);
            }
        }
    }

    /// <summary>
    /// Gives <paramref name="member"/>'s announced MAC a member route through the next hop its addresses have, or removes
    /// it when the member has a connected link (its binding carries the frames), no next hop, or the group is a mesh.
    /// </summary>
    private void RouteMemberMac(PeerId member, NextHops? candidates)
    {
        PhysicalAddress? mac = _announced.TryGetValue(member, out var announced) ? announced.Mac : null;
        (ITincanLink Link, PeerId? Via)? route = mac is not null && _structured ? DesiredRoute(member, candidates) : null;
        bool had = _macRoutes.TryGetValue(member, out (PhysicalAddress Mac, ITincanLink Link) current);
        if (route is not { Via: not null } hop)
        {
            ForgetMemberMac(member);
            return;
        }

        if (had && current.Mac.Equals(mac) && ReferenceEquals(current.Link, hop.Link))
        {
            return;
        }

        if (had && !current.Mac.Equals(mac))
        {
            _switch.RemoveMemberRoute(current.Mac);
        }

        if (_switch.SetMemberRoute(mac!, hop.Link))
        {
            _macRoutes[member] = (mac!, hop.Link);
        }
        else
        {
            _macRoutes.Remove(member);
            LogMemberMacRefused(_logger, member.Value, mac!.ToString());
        }
    }

    /// <summary>Removes <paramref name="member"/>'s member route, if it has one.</summary>
    private void ForgetMemberMac(PeerId member)
    {
        if (_macRoutes.Remove(member, out (PhysicalAddress Mac, ITincanLink Link) route))
        {
            _switch.RemoveMemberRoute(route.Mac);
        }
    }

    [LoggerMessage(25, LogLevel.Warning, "member {Peer} announced MAC {Mac}, which is this node's own: frames for it are not routed to {Peer}")]
    private static partial void LogMemberMacRefused(ILogger logger, string peer, string mac);
}
