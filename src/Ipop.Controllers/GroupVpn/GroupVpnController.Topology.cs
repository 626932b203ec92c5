using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using Ipop.Controllers.GroupVpn;
using Ipop.Controllers.GroupVpn.Topology;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// The structured topology (issue 16, docs/scale.md): which members this node links to, and how it reaches the others.
/// </summary>
/// <remarks>
/// <para>
/// Every member computes the same <see cref="StructuredPlan"/> from the same member list (ring positions are hashes of
/// node ids, so a member cannot choose or claim one), wants exactly its planned links plus on-demand ones, and routes
/// packets for every other member to the connected neighbour closest to it on the ring (<see cref="GreedyRingRouter"/>),
/// which forwards them on (Tincan's overlay forwarding, docs/routing.md). Members learn each other's addresses from
/// presence announcements (<see cref="MemberAnnouncement"/>), since most pairs never exchange a negotiation message.
/// </para>
/// <para>
/// Everything here runs on the negotiator's loop (policy callbacks, and work posted by link events and the on-demand
/// timer), so it needs no locks. The mesh keeps its old behaviour exactly: nothing here acts while it is a mesh except
/// the bookkeeping that lets <c>auto</c> switch.
/// </para>
/// </remarks>
public sealed partial class GroupVpnController
{
    private static readonly TimeSpan OnDemandActiveCheck = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan OnDemandQuietCheck = TimeSpan.FromSeconds(5);

    /// <summary>Ring positions of the online members (this node not included).</summary>
    private readonly Dictionary<PeerId, ulong> _positions = [];

    /// <summary>The members by ring position (the reverse of <see cref="_positions"/>): a re-plan names the members whose wish changed.</summary>
    private readonly Dictionary<ulong, PeerId> _byPosition = [];

    /// <summary>
    /// The announcement each member published last, as text and parsed (kept in a mesh too, so <c>auto</c> can switch
    /// at once). The text tells an unchanged announcement without parsing it: every re-check of trust reports every
    /// member again, and a group of N members would parse N announcements per re-check.
    /// </summary>
    private readonly Dictionary<PeerId, (string? Text, ImmutableArray<IPAddress> Addresses, PhysicalAddress? Mac)> _announced = [];

    /// <summary>Per forwarding prefix, the packet count already handed to <see cref="_onDemand"/>; per on-demand link, its sent packets.</summary>
    private readonly Dictionary<object, long> _trafficSeen = [];

    private readonly HashSet<IPNetwork> _localPrefixes = [];
    private (bool Structured, ImmutableArray<InterfaceAddress> Addresses)? _localPrefixesFor;
    private OnDemandLinks? _onDemand;
    private HashSet<ulong> _planned = [];
    private StructuredPlan? _plan;
    private bool _structured;
    private ulong _self;
    private ITimer? _onDemandTimer;
    private long _startTimestamp;
    private bool _announceUnsupported;
    private bool _replanQueued;
    private bool _recheckAllWishes;
    private TimeSpan _lastOnDemandCheck;

    /// <summary>Whether the group runs structured now (for <c>auto</c>, it depends on the member count).</summary>
    internal bool IsStructured => _structured;

    /// <summary>
    /// The simulator's hook: builds the plan for a member list (this node's position among them) instead of
    /// <see cref="StructuredPlan.Build"/>. A simulation runs a thousand controllers in one process, each computing the
    /// same plan from the same member list; sharing it saves that work without changing any answer.
    /// </summary>
    internal Func<ulong[], int, StructuredPlan>? PlanBuilder { get; set; }

    /// <summary>The members this node's plan links to (structured), for tests.</summary>
    internal IReadOnlyCollection<ulong> PlannedPositions => _planned;

    private void StartTopology()
    {
        _self = RingPosition.Of(_signaling.LocalId.Value);
        _startTimestamp = _time.GetTimestamp();
        _onDemand = new OnDemandLinks(_options.OnDemandPacketsPerSecond, TimeSpan.FromSeconds(_options.OnDemandIdleSeconds), _options.OnDemandMaxLinks);
        UpdateTopology();
    }

    /// <summary>Publishes this node's addresses with its presence; in a structured group members learn them only so.</summary>
    private async Task AnnounceAddressesAsync(CancellationToken ct)
    {
        try
        {
            await _signaling.SetAnnouncementAsync(MemberAnnouncement.Format(_addresses, RoutesMacs ? _nic?.MacAddress : null), ct);
        }
        catch (NotSupportedException e) when (_options.Topology != "structured")
        {
            // A mesh does not need them (every member links to every other and learns addresses on the link); auto then
            // stays a mesh. Structured cannot work without them, so there the exception ends the start with its message.
            _announceUnsupported = true;
            LogAnnouncementsUnsupported(_logger, e.Message);
        }
    }

    /// <summary>Called with every trust decision: keeps the member list, the plan and the announced addresses current.</summary>
    private void TrackMember(OverlayPeer peer, bool member)
    {
        // Called for every member at every re-check of trust: the hash and the parsing are done once per member and
        // announcement, not once per call.
        bool changed;
        if (!member)
        {
            changed = ForgetPosition(peer.Id);
            ForgetAnnouncedMac(peer.Id);
            _announced.Remove(peer.Id);
        }
        else
        {
            changed = false;
            if (!_positions.ContainsKey(peer.Id))
            {
                ulong position = RingPosition.Of(peer.Id.Value);
                _positions.Add(peer.Id, position);
                _byPosition[position] = peer.Id;
                _rerouteMembers.Add(peer.Id); // its addresses may have been waiting for a position to route towards
                changed = true;
            }

            bool known = _announced.TryGetValue(peer.Id, out (string? Text, ImmutableArray<IPAddress> Addresses, PhysicalAddress? Mac) before);
            if (!known || !string.Equals(before.Text, peer.Announcement, StringComparison.Ordinal))
            {
                ImmutableArray<IPAddress> addresses = MemberAnnouncement.Parse(peer.Announcement, out PhysicalAddress? mac, out string? problem);
                if (problem is not null)
                {
                    LogBadAnnouncement(_logger, peer.Id.Value, problem);
                }

                _announced[peer.Id] = (peer.Announcement, addresses, mac);
                if (RoutesMacs && !Equals(before.Mac, mac))
                {
                    OnAnnouncedMac(peer.Id, before.Mac, mac); // its MAC's member route (docs/routing.md, "Member routes")
                }

                if ((!known || !before.Addresses.SequenceEqual(addresses)) && _structured)
                {
                    PeerId id = peer.Id;
                    _negotiator.Post(ct => ClaimAsync(id, ToInterfaceAddresses(addresses), ct));
                }
            }
        }

        if (changed)
        {
            OnMembershipChanged();
        }
    }

    /// <summary>Drops <paramref name="peer"/>'s ring position; false if it had none.</summary>
    private bool ForgetPosition(PeerId peer)
    {
        if (!_positions.Remove(peer, out ulong position))
        {
            return false;
        }

        if (_byPosition.TryGetValue(position, out PeerId holder) && holder == peer)
        {
            _byPosition.Remove(position);
        }

        return true;
    }

    /// <summary>
    /// The member list changed: switch topology if <c>auto</c> says so, and re-plan once the events queued now are
    /// handled. A group coming online reports its N members one by one; re-planning (O(N log N)) and re-asking every
    /// peer (O(N)) after each would cost O(N² log N) per member, so the changes are coalesced into one re-plan. Until
    /// then <see cref="WantsStructuredLink"/> answers from the previous plan; a peer it wrongly turned down gets its
    /// link at once from the re-check (a fresh wish has no backoff). Only the members the re-plan added or removed are
    /// asked again (<see cref="LinkNegotiator.RecheckWishesAsync"/>): one join or leave changes a few planned links, and
    /// re-asking all N members after each would make every change cost O(N) per member, O(N²) in the group.
    /// </summary>
    private void OnMembershipChanged()
    {
        UpdateTopology();
        if (_replanQueued)
        {
            return;
        }

        _replanQueued = true;
        _negotiator.Post(async ct =>
        {
            _replanQueued = false;
            if (!_structured)
            {
                return;
            }

            HashSet<ulong> before = _planned;
            RebuildPlan();
            if (_recheckAllWishes)
            {
                // Just switched from a mesh (which wants everyone), or the plan was from an earlier structured period.
                _recheckAllWishes = false;
                _negotiator.RecheckTrust();
                return;
            }

            List<PeerId> changed = [];
            AddChangedWishes(before, _planned, changed);
            AddChangedWishes(_planned, before, changed);
            if (changed.Count > 0)
            {
                await _negotiator.RecheckWishesAsync(changed, ct);
            }
        });
    }

    /// <summary>Adds the members planned in <paramref name="from"/> but not in <paramref name="to"/> (and still online) to <paramref name="changed"/>.</summary>
    private void AddChangedWishes(HashSet<ulong> from, HashSet<ulong> to, List<PeerId> changed)
    {
        foreach (ulong position in from)
        {
            if (!to.Contains(position) && _byPosition.TryGetValue(position, out PeerId peer))
            {
                changed.Add(peer);
            }
        }
    }

    /// <summary>Switches between mesh and structured as the options and (for <c>auto</c>) the member count say.</summary>
    private void UpdateTopology()
    {
        int members = _positions.Count + 1;
        bool structured = _options.Topology switch
        {
            "structured" => true,
            "auto" => !_announceUnsupported
                && (members > _options.StructuredAbove || (_structured && members > _options.StructuredAbove - Math.Max(2, _options.StructuredAbove / 8))),
            _ => false,
        };
        if (structured == _structured)
        {
            return;
        }

        // auto switches back to a mesh only a few members below the threshold, so a group at the threshold does not
        // rebuild its links with every join and leave.
        _structured = structured;
        _recheckAllWishes = structured;
        LogTopology(_logger, structured ? "structured" : "mesh", members);
        if (structured && _options.Mode == "tap")
        {
            // Switch mode: frames cross members from now on (a bounded flood along the ring, stations learned through
            // hops; docs/routing.md). It stays on if auto goes back to a mesh, where the flood simply ends at the
            // first hop, since every member is linked to every other there.
            _switch.SetRingPosition(_self);
        }

        if (!structured)
        {
            _negotiator.RecheckTrust(); // a mesh wants everyone (a switch to structured re-plans first, see OnMembershipChanged)
        }

        _negotiator.Post(async ct =>
        {
            if (_structured)
            {
                foreach ((PeerId id, (string? _, ImmutableArray<IPAddress> addresses, PhysicalAddress? _)) in _announced)
                {
                    await ClaimAsync(id, ToInterfaceAddresses(addresses), ct);
                }

                ArmOnDemandCheck(OnDemandQuietCheck);
            }
            else
            {
                _onDemandTimer?.Dispose();
                _onDemandTimer = null;
            }

            ApplyOwnership();
        });
    }

    private bool WantsStructuredLink(PeerId peer)
    {
        if (_plan is null)
        {
            RebuildPlan(); // the first answer: nothing to coalesce with yet
        }

        ulong position = _positions.TryGetValue(peer, out ulong p) ? p : RingPosition.Of(peer.Value);
        return _planned.Contains(position) || _onDemand!.Contains(position);
    }

    private void RebuildPlan()
    {
        var positions = new ulong[_positions.Count + 1];
        _positions.Values.CopyTo(positions, 0);
        positions[^1] = _self;
        StructuredPlan plan = PlanBuilder?.Invoke(positions, _options.RingNeighbours) ?? StructuredPlan.Build(positions, _options.RingNeighbours);
        _plan = plan;
        var planned = new HashSet<ulong>();
        foreach (int i in plan.NeighboursOf(plan.IndexOf(_self)))
        {
            planned.Add(plan.PositionAt(i));
        }

        _planned = planned;
    }

    /// <summary>
    /// Where a packet for <paramref name="holder"/> goes when this node has no connected link to it: the connected
    /// neighbour closest to it on the ring, if closer than this node.
    /// </summary>
    private (ITincanLink Link, PeerId Via)? NextHop(PeerId holder, NextHops neighbours)
    {
        if (!_positions.TryGetValue(holder, out ulong destination))
        {
            return null;
        }

        int next = GreedyRingRouter.NextHop(_self, destination, neighbours.Positions);
        return next < 0 ? null : (neighbours.Links[next], neighbours.Peers[next]);
    }

    /// <summary>The members this node has a connected link to, with their ring positions: the candidate next hops, gathered once per re-route.</summary>
    private NextHops ConnectedNeighbours()
    {
        var positions = new List<ulong>(_linkOf.Count);
        var links = new List<ITincanLink>(_linkOf.Count);
        var peers = new List<PeerId>(_linkOf.Count);
        foreach ((PeerId peer, ITincanLink link) in _linkOf)
        {
            if (IsNextHop(peer, link) && _positions.TryGetValue(peer, out ulong position))
            {
                positions.Add(position);
                links.Add(link);
                peers.Add(peer);
            }
        }

        return new NextHops([.. positions], [.. links], [.. peers]);
    }

    /// <summary>Candidate next hops: parallel arrays, since the router takes a span of positions.</summary>
    private sealed record NextHops(ulong[] Positions, ITincanLink[] Links, PeerId[] Peers);

    /// <summary>
    /// How many hops a packet for <paramref name="holder"/> takes through <paramref name="via"/>: one to it, then greedy
    /// steps along the plan (what every member's routing does once the links it plans are up). <c>null</c> if the plan
    /// does not know one of them.
    /// </summary>
    /// <remarks>
    /// For status views, from any thread: it reads only the immutable <paramref name="plan"/> (the current one, even if a
    /// re-plan is queued: re-planning here would undo the coalescing of OnMembershipChanged) and hashes the ids itself.
    /// </remarks>
    private static int? PlannedHops(StructuredPlan? plan, PeerId via, PeerId holder)
    {
        if (plan is null)
        {
            return null;
        }

        ulong destination = RingPosition.Of(holder.Value);
        int at = plan.IndexOf(RingPosition.Of(via.Value));
        if (plan.IndexOf(destination) < 0)
        {
            return null;
        }

        Span<ulong> neighbours = stackalloc ulong[64];
        for (int hops = 1; at >= 0 && hops <= GreedyRingRouter.MaxHops; hops++)
        {
            if (plan.PositionAt(at) == destination)
            {
                return hops;
            }

            ReadOnlySpan<int> links = plan.NeighboursOf(at);
            int n = Math.Min(links.Length, neighbours.Length);
            for (int i = 0; i < n; i++)
            {
                neighbours[i] = plan.PositionAt(links[i]);
            }

            int next = GreedyRingRouter.NextHop(plan.PositionAt(at), destination, neighbours[..n]);
            at = next < 0 ? -1 : links[next];
        }

        return null;
    }

    /// <summary>In a structured group this node's own addresses are local to its route table, which turns forwarding on.</summary>
    private void ApplyLocalPrefixes()
    {
        // Every re-route calls this (one per claim in a structured group): only a change of our addresses or of the
        // topology changes anything.
        if (_localPrefixesFor is { } applied && applied.Structured == _structured && applied.Addresses == _addresses)
        {
            return;
        }

        _localPrefixesFor = (_structured, _addresses);
        var wanted = _structured ? _addresses.Select(a => HostPrefix(a.Address)).ToHashSet() : [];
        foreach (IPNetwork stale in _localPrefixes.Except(wanted).ToList())
        {
            _routes.RemoveRoute(stale);
            _localPrefixes.Remove(stale);
        }

        foreach (IPNetwork prefix in wanted)
        {
            if (_localPrefixes.Add(prefix))
            {
                _routes.SetLocal(prefix);
            }
        }
    }

    private void OnLinkStatusChanged(object? sender, LinkStatusChangedEventArgs e)
    {
        if (_structured)
        {
            // A next hop came up or went down: re-route (on the loop, where the routing state lives).
            QueueReroute();
        }
    }

    private ImmutableArray<InterfaceAddress> ToInterfaceAddresses(ImmutableArray<IPAddress> addresses) =>
        [.. addresses.Select(a => new InterfaceAddress(a, a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? _subnet.PrefixLength : _subnetV6?.PrefixLength ?? 128))];

    [LoggerMessage(20, LogLevel.Information, "GroupVPN topology: {Topology} with {Members} online members")]
    private static partial void LogTopology(ILogger logger, string topology, int members);

    [LoggerMessage(21, LogLevel.Warning, "member {Peer}'s presence announcement was partly ignored: {Problem}")]
    private static partial void LogBadAnnouncement(ILogger logger, string peer, string problem);

    [LoggerMessage(22, LogLevel.Warning, "signaling cannot publish this node's addresses ({Reason}): the group stays a full mesh")]
    private static partial void LogAnnouncementsUnsupported(ILogger logger, string reason);
}
