using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Ipop.Controllers.GroupVpn;
using Ipop.Controllers.GroupVpn.Topology;
using Ipop.Controllers.Negotiation;
using Ipop.Tincan;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ipop.Controllers;

/// <summary>
/// GroupVPN: links this node to every online member of one group, gives the group one flat,
/// untranslated subnet (routing by destination address in TUN mode, a learning switch in TAP mode),
/// and keeps the mesh current as members come, go and fail.
/// </summary>
/// <remarks>
/// A peer is trusted only while signaling reports it online in the group; the moment it is not, its
/// link is removed and its key revoked. Addresses are static from config or proposed from a hash of
/// the node id; on a conflict with us the node whose id sorts higher moves and tells everyone. An address
/// belongs to the member that held it first (<see cref="AddressOwnership"/>): a later claim for it is refused
/// and logged, and only held addresses are routed, so a member's packets are accepted only from its own.
/// </remarks>
public sealed partial class GroupVpnController : IController, INegotiationPolicy
{
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly IVirtualInterfaceFactory _interfaces;
    private readonly GroupVpnOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LinkNegotiator _negotiator;
    private readonly ConcurrentDictionary<PeerId, GroupMemberStatus> _members = new();
    private readonly AddressOwnership _owners = new();
    private readonly Dictionary<PeerId, ITincanLink> _linkOf = [];
    private readonly RouteTable _routes = new();
    private readonly LearningSwitch _switch;

    // What the last re-route did (Reroute): the routes it wanted and the connected links its next hops came from; and
    // the members whose claims or ring positions came in since (their addresses are routed again).
    private readonly Dictionary<IPNetwork, (ITincanLink Link, PeerId? Via)> _desired = [];
    private readonly Dictionary<PeerId, ITincanLink> _routedLinks = [];

    // Members whose signaling session ended while their link is kept for the presence grace. Their own addresses still
    // go to that link, but they carry nobody else's traffic until they are back: a member that crashed (its TCP
    // connection closed by its kernel, so the server says it left at once) would otherwise keep receiving what others
    // forward through it until its link is declared down, about 6 s with traffic and up to 33 s idle. A member that
    // only lost its XMPP connection costs a detour for a moment.
    private readonly HashSet<PeerId> _away = [];
    private readonly HashSet<PeerId> _rerouteMembers = [];
    private IPNetwork _subnet;
    private IPNetwork? _subnetV6;
    private GroupAddressAllocator? _allocator;
    private IVirtualInterface? _nic;
    private ImmutableArray<InterfaceAddress> _addresses = [];
    private Func<CancellationToken, Task>? _reroute;
    private int _rerouteQueued; // 1 while a queued re-route has not started (set from link event threads)
    private bool _routedStructured;

    /// <summary>Creates the controller; nothing happens until <see cref="RunAsync"/>.</summary>
    public GroupVpnController(
        IOverlaySignaling signaling,
        ITincan tincan,
        IVirtualInterfaceFactory interfaces,
        IOptions<GroupVpnOptions> options,
        ILogger<GroupVpnController> logger,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _signaling = signaling;
        _tincan = tincan;
        _interfaces = interfaces;
        _options = options.Value;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _switch = new LearningSwitch(timeProvider: _time, maxStations: Math.Max(1, _options.MaxLearnedMacs));
        _negotiator = new LinkNegotiator(signaling, tincan, this, new NegotiationSettings
        {
            RetryMin = TimeSpan.FromSeconds(_options.LinkRetryMinSeconds),
            RetryMax = TimeSpan.FromSeconds(_options.LinkRetryMaxSeconds),
            OutageLinkLifetime = TimeSpan.FromSeconds(_options.SignalingOutageLinkLifetimeSeconds),
        }, _time, logger);
    }

    /// <summary>This node's addresses in the group (empty until running).</summary>
    public IReadOnlyList<InterfaceAddress> Addresses => _addresses;

    /// <summary>The name of the virtual interface once created.</summary>
    public string? InterfaceName => _nic?.Name;

    /// <summary>A snapshot of the members this node knows, with their links.</summary>
    /// <remarks>The hops of a member reached through another are counted here, when asked, not at every re-route.</remarks>
    public IReadOnlyList<GroupMemberStatus> GetMembers()
    {
        StructuredPlan? plan = _plan;
        return [.. _members.Values
            .Select(s => s.Via is { } via ? s with { Hops = PlannedHops(plan, via, s.Peer) } : s)
            .Select(s => _tincan.TryGetLink(s.Peer, out ITincanLink? l) ? s with { Link = l.Status, Stats = l.GetStats() } : s)
            .OrderBy(s => s.Peer.Value, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> errors = _options.Validate();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(nameof(GroupVpnOptions), typeof(GroupVpnOptions), errors);
        }

        _subnet = IPNetwork.Parse(_options.Subnet);
        _subnetV6 = string.IsNullOrEmpty(_options.Ipv6Subnet) ? null : IPNetwork.Parse(_options.Ipv6Subnet);
        try
        {
            await _negotiator.RunAsync(StartGroupAsync, cancellationToken);
        }
        finally
        {
            _tincan.LinkStatusChanged -= OnLinkStatusChanged;
            _onDemandTimer?.Dispose();
            _nic?.Dispose();
        }
    }

    private async Task StartGroupAsync(CancellationToken ct)
    {
        await _signaling.JoinGroupAsync(_options.Group, ct);
        _allocator = new GroupAddressAllocator(_subnet, _signaling.LocalId.Value);
        InterfaceAddress v4 = string.IsNullOrEmpty(_options.Address) ? _allocator.Current : new InterfaceAddress(IPAddress.Parse(_options.Address), _subnet.PrefixLength);
        _addresses = WithIpv6(v4);
        bool tap = _options.Mode == "tap";
        _nic = _interfaces.Create(new VirtualInterfaceOptions
        {
            Name = _options.InterfaceName,
            Mode = tap ? VirtualInterfaceMode.Tap : VirtualInterfaceMode.Tun,
            Mtu = _options.Mtu,
            Addresses = _addresses,
            BridgeName = string.IsNullOrEmpty(_options.BridgeName) ? null : _options.BridgeName,
        });
        _routes.SetUnreachable(_subnet);
        if (_subnetV6 is { } v6)
        {
            _routes.SetUnreachable(v6);
        }

        if (_nic.MacAddress is { } localMac)
        {
            _switch.SetLocal(localMac);
        }

        _tincan.AttachInterface(_nic, tap ? _switch : _routes);
        _tincan.LinkStatusChanged += OnLinkStatusChanged;
        StartTopology();
        await AnnounceAddressesAsync(ct);
        LogStarted(_logger, _options.Group, _signaling.LocalId.Value, string.Join(' ', _addresses), _nic.Name, _options.Mode);
    }

    bool INegotiationPolicy.IsTrusted(OverlayPeer peer)
    {
        bool member = peer.Presence == PeerPresence.Online
            && peer.Relationship.HasFlag(PeerRelationship.GroupMember)
            && peer.Groups.Contains(_options.Group, StringComparer.OrdinalIgnoreCase);
        if (member && !_members.ContainsKey(peer.Id))
        {
            _members.TryAdd(peer.Id, new GroupMemberStatus(peer.Id, peer.User, [], null, null)); // (asked at every re-check)
        }

        if (_allocator is not null)
        {
            TrackMember(peer, member); // (before the start, the negotiator asks nothing that needs it)
        }

        return member;
    }

    bool INegotiationPolicy.WantsLink(OverlayPeer peer) => !_structured || WantsStructuredLink(peer.Id);

    LinkNegotiationMessage INegotiationPolicy.Describe(PeerId peer, LinkDescriptor? descriptor) =>
        new(descriptor, _addresses, _nic?.MacAddress) { Bridge = !string.IsNullOrEmpty(_options.BridgeName) };

    /// <summary>The negotiation loop (tests wait on it going idle).</summary>
    internal LinkNegotiator Negotiator => _negotiator;

    async Task INegotiationPolicy.OnClaimsAsync(PeerId peer, LinkNegotiationMessage message, ITincanLink? link, CancellationToken ct)
    {
        var valid = message.Addresses.Where(a => _subnet.Contains(a.Address) || (_subnetV6 is { } v6 && v6.Contains(a.Address))).ToImmutableArray();
        if (valid.Length != message.Addresses.Length)
        {
            LogIgnoredAddresses(_logger, peer.Value, string.Join(' ', message.Addresses.Except(valid)));
        }

        if (link is not null)
        {
            _linkOf[peer] = link;
            if (_options.Mode == "tap")
            {
                // The switch's bounded flood splits the ring between the links by their members' positions.
                _switch.SetRingPosition(link, RingPosition.Of(peer.Value));
                if (message.Mac is { } mac && !_switch.Bind(link, mac, message.Bridge))
                {
                    LogMacRefused(_logger, peer.Value, mac.ToString());
                }
            }
        }

        await ClaimAsync(peer, valid, ct);
    }

    /// <summary>
    /// Records <paramref name="peer"/>'s addresses (from a negotiation message or, in a structured group, its presence
    /// announcement), moves this node's own address if the peer holds it and wins, and re-routes.
    /// </summary>
    private async Task ClaimAsync(PeerId peer, ImmutableArray<InterfaceAddress> valid, CancellationToken ct)
    {
        if (_members.TryGetValue(peer, out GroupMemberStatus? status))
        {
            _members[peer] = status with { Addresses = valid };
        }

        _owners.Claim(peer, valid.Select(a => a.Address));
        _rerouteMembers.Add(peer);
        InterfaceAddress mine = _addresses[0];
        if (valid.Any(a => a.Address.Equals(mine.Address)) && string.IsNullOrEmpty(_options.Address)
            && GroupAddressAllocator.MustYield(_signaling.LocalId.Value, peer.Value))
        {
            InterfaceAddress next = _allocator!.MoveNext(_owners.Claimed);
            LogAddressConflict(_logger, mine.ToString(), peer.Value, next.ToString());
            foreach (InterfaceAddress a in _addresses)
            {
                _nic!.RemoveAddress(a);
            }

            _addresses = WithIpv6(next);
            foreach (InterfaceAddress a in _addresses)
            {
                _nic!.AddAddress(a);
            }

            ApplyOwnership();
            await _negotiator.AnnounceAsync(ct);
            await AnnounceAddressesAsync(ct);
            return;
        }

        Reroute(full: false);
    }

    void INegotiationPolicy.OnLinkReplaced(PeerId peer, ITincanLink old)
    {
        if (_linkOf.TryGetValue(peer, out ITincanLink? current) && ReferenceEquals(current, old))
        {
            _linkOf.Remove(peer);
        }

        _routes.RemoveRoutes(old);
        _switch.Forget(old);
        if (_structured)
        {
            Reroute(full: false); // members routed through it (or to it) go through another next hop now
        }
    }

    void INegotiationPolicy.OnForgotten(PeerId peer, ITincanLink? link)
    {
        if (_positions.TryGetValue(peer, out ulong position) && ForgetPosition(peer))
        {
            ForgetAnnouncedMac(peer);
            _announced.Remove(peer);
            _onDemand?.Remove(position);
            OnMembershipChanged();
        }

        _members.TryRemove(peer, out _);
        _linkOf.Remove(peer);
        _away.Remove(peer);
        _owners.Forget(peer);
        if (link is not null)
        {
            _routes.RemoveRoutes(link);
            _switch.Forget(link);
        }

        Reroute(full: false); // an address it held may go to a member that waited for it
    }

    // Only learned MACs expire, and only in switch mode (a TUN node never learns any): purging once per aging time keeps
    // an expired entry at most two aging times (routing already ignores it after one), at one wakeup per 300 s.
    TimeSpan? INegotiationPolicy.OnTick()
    {
        if (_options.Mode != "tap")
        {
            return null;
        }

        _switch.Purge();
        return _switch.AgingTime;
    }

    private ImmutableArray<InterfaceAddress> WithIpv6(InterfaceAddress v4)
    {
        if (_subnetV6 is not { } v6)
        {
            return [v4];
        }

        // The IPv6 address carries the IPv4 host number, so both are unique together.
        byte[] bytes = v6.BaseAddress.GetAddressBytes();
        byte[] host = v4.Address.GetAddressBytes();
        int hostBits = 32 - _subnet.PrefixLength;
        uint hostNumber = (((uint)host[0] << 24) | ((uint)host[1] << 16) | ((uint)host[2] << 8) | host[3]) & (hostBits == 32 ? uint.MaxValue : (1u << hostBits) - 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), hostNumber);
        return [v4, new InterfaceAddress(new IPAddress(bytes), v6.PrefixLength)];
    }

    [LoggerMessage(1, LogLevel.Information, "GroupVPN {Group}: node {Node} at {Addresses} on {Interface} ({Mode})")]
    private static partial void LogStarted(ILogger logger, string group, string node, string addresses, string @interface, string mode);

    [LoggerMessage(2, LogLevel.Warning, "member {Peer} claimed addresses outside the group subnet, ignored: {Addresses}")]
    private static partial void LogIgnoredAddresses(ILogger logger, string peer, string addresses);

    [LoggerMessage(4, LogLevel.Warning, "refused {Peer}'s claim of {Address}: {Holder} holds it (it goes to {Peer} only once {Holder} gives it up)")]
    private static partial void LogClaimRefused(ILogger logger, string peer, string address, string holder);

    [LoggerMessage(5, LogLevel.Warning, "refused {Peer}'s claim of {Address}: it is this node's address")]
    private static partial void LogClaimOfOurs(ILogger logger, string peer, string address);

    [LoggerMessage(6, LogLevel.Warning, "refused {Peer}'s MAC {Mac}: another member or this node uses it; its frames are dropped")]
    private static partial void LogMacRefused(ILogger logger, string peer, string mac);

    [LoggerMessage(7, LogLevel.Information, "member {Peer} {What}")]
    private static partial void LogAwayNextHop(ILogger logger, string peer, string what);

    [LoggerMessage(3, LogLevel.Warning, "address {Address} is also claimed by {Peer}; moving to {Next}")]
    private static partial void LogAddressConflict(ILogger logger, string address, string peer, string next);
}
