using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
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

    /// <summary>
    /// Who holds each announced MAC: the first member that announced it, as for addresses (<see cref="GroupVpn.AddressOwnership"/>).
    /// A member that announces another's MAC gets no member route for it, so it cannot pull that member's frames its way.
    /// </summary>
    private readonly Dictionary<PhysicalAddress, PeerId> _macHolders = [];

    /// <summary>
    /// The IPv4 addresses whose ARP requests the switch answers with each member's MAC (structured switch mode: ARP
    /// suppression, docs/routing.md "ARP answered locally"): the member's held addresses, with its held MAC.
    /// </summary>
    private readonly Dictionary<PeerId, (PhysicalAddress Mac, IPAddress[] Addresses)> _arpOf = [];

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
    /// it when the member has a connected link (its binding carries the frames), no next hop, does not hold the MAC, or
    /// the group is a mesh.
    /// </summary>
    private void RouteMemberMac(PeerId member, NextHops? candidates)
    {
        PhysicalAddress? mac = _announced.TryGetValue(member, out var announced) && announced.Mac is { } m
            && _macHolders.TryGetValue(m, out PeerId holder) && holder == member ? m : null;
        AnswerArpFor(member, _structured ? mac : null);
        (ITincanLink Link, PeerId? Via)? route = mac is not null && _structured ? DesiredRoute(member, candidates) : null;
        bool had = _macRoutes.TryGetValue(member, out (PhysicalAddress Mac, ITincanLink Link) current);
        if (route is not { Via: not null } hop)
        {
            ForgetMemberMac(member);
            return;
        }

        // A route always names the member's held MAC: a new announcement forgets the old one first (OnAnnouncedMac).
        Debug.Assert(!had || current.Mac.Equals(mac), "a member route for a MAC the member no longer holds");
        if (had && ReferenceEquals(current.Link, hop.Link))
        {
            return;
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

    /// <summary>
    /// <paramref name="member"/> announced <paramref name="mac"/> where it announced <paramref name="before"/> (either may
    /// be <c>null</c>): the MAC's holder and the member routes follow at the next re-route.
    /// </summary>
    private void OnAnnouncedMac(PeerId member, PhysicalAddress? before, PhysicalAddress? mac)
    {
        if (before is not null)
        {
            // The old MAC's route goes now, before another member that announced it too may get it at the re-route.
            ForgetMemberMac(member);
            ReleaseMac(member, before);
        }

        if (mac is not null && !_macHolders.TryAdd(mac, member) && _macHolders[mac] is var holder && holder != member)
        {
            LogMacClaimRefused(_logger, member.Value, mac.ToString(), holder.Value);
        }

        _rerouteMembers.Add(member);
        if (_structured)
        {
            QueueReroute();
        }
    }

    /// <summary>The member no longer announces a MAC (it left): its route, its ARP answers and its hold on the MAC go.</summary>
    private void ForgetAnnouncedMac(PeerId member)
    {
        AnswerArpFor(member, null);
        if (_announced.TryGetValue(member, out var announced) && announced.Mac is { } mac)
        {
            ForgetMemberMac(member);
            ReleaseMac(member, mac);
        }
    }

    /// <summary>If <paramref name="member"/> held <paramref name="mac"/>, hands it to another member that announces it, if any.</summary>
    private void ReleaseMac(PeerId member, PhysicalAddress mac)
    {
        if (!_macHolders.TryGetValue(mac, out PeerId holder) || holder != member)
        {
            return;
        }

        _macHolders.Remove(mac);
        foreach ((PeerId other, var announced) in _announced)
        {
            if (other != member && mac.Equals(announced.Mac))
            {
                _macHolders[mac] = other;
                _rerouteMembers.Add(other);
                return;
            }
        }
    }

    /// <summary>
    /// Has the switch answer ARP for <paramref name="member"/>'s held IPv4 addresses with <paramref name="mac"/> (its held
    /// MAC), or for none (<c>null</c>), removing the answers it gave before that no longer hold.
    /// </summary>
    private void AnswerArpFor(PeerId member, PhysicalAddress? mac)
    {
        IPAddress[] addresses = mac is null || !_members.TryGetValue(member, out GroupMemberStatus? status)
            ? []
            : [.. status.Addresses.Select(a => a.Address).Where(a => a.AddressFamily == AddressFamily.InterNetwork
                && _owners.Held.TryGetValue(a, out PeerId holder) && holder == member)];
        bool had = _arpOf.TryGetValue(member, out (PhysicalAddress Mac, IPAddress[] Addresses) before);
        if (had && before.Mac.Equals(mac) && before.Addresses.SequenceEqual(addresses))
        {
            return;
        }

        if (had)
        {
            foreach (IPAddress a in before.Addresses)
            {
                // Only if the entry is still this member's: the address may belong to another member now.
                _switch.RemoveArpEntry(a, before.Mac);
            }
        }

        foreach (IPAddress a in addresses)
        {
            _switch.SetArpEntry(a, mac!);
        }

        if (addresses.Length == 0)
        {
            _arpOf.Remove(member);
        }
        else
        {
            _arpOf[member] = (mac!, addresses);
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

    /// <summary>
    /// The frames this node sent through each member route so far (switch mode's part of the on-demand count: a member
    /// that gets more than <c>OnDemandPacketsPerSecond</c> of them earns a direct link, as a TUN member does).
    /// </summary>
    private IEnumerable<(object Key, long Sent, ulong Position, PeerId Holder)> MemberMacTraffic()
    {
        foreach ((PeerId member, (PhysicalAddress mac, ITincanLink _)) in _macRoutes)
        {
            if (_positions.TryGetValue(member, out ulong position) && _switch.GetMemberRoutePackets(mac) is { } sent)
            {
                yield return (mac, sent, position, member);
            }
        }
    }

    [LoggerMessage(26, LogLevel.Warning, "refused {Peer}'s MAC {Mac}: {Holder} announced it first (frames for it go to {Holder} only)")]
    private static partial void LogMacClaimRefused(ILogger logger, string peer, string mac, string holder);

    [LoggerMessage(25, LogLevel.Warning, "member {Peer} announced MAC {Mac}, which is this node's own: frames for it are not routed to {Peer}")]
    private static partial void LogMemberMacRefused(ILogger logger, string peer, string mac);
}
