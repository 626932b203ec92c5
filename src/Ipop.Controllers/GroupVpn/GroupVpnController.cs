using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Ipop.Controllers.GroupVpn;
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
/// the node id; on a conflict the node whose id sorts higher moves and tells everyone.
/// </remarks>
public sealed partial class GroupVpnController : IController, ILinkPolicy
{
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly IVirtualInterfaceFactory _interfaces;
    private readonly GroupVpnOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LinkNegotiator _negotiator;
    private readonly ConcurrentDictionary<PeerId, GroupMemberStatus> _members = new();
    private readonly Dictionary<PeerId, ImmutableArray<InterfaceAddress>> _claims = [];
    private readonly RouteTable _routes = new();
    private readonly LearningSwitch _switch;
    private IPNetwork _subnet;
    private IPNetwork? _subnetV6;
    private GroupAddressAllocator? _allocator;
    private IVirtualInterface? _nic;
    private ImmutableArray<InterfaceAddress> _addresses = [];

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
        _switch = new LearningSwitch(timeProvider: _time);
        _negotiator = new LinkNegotiator(signaling, tincan, this, _time, logger,
            TimeSpan.FromSeconds(_options.LinkRetryMinSeconds), TimeSpan.FromSeconds(_options.LinkRetryMaxSeconds));
    }

    /// <summary>This node's addresses in the group (empty until running).</summary>
    public IReadOnlyList<InterfaceAddress> Addresses => _addresses;

    /// <summary>The name of the virtual interface once created.</summary>
    public string? InterfaceName => _nic?.Name;

    /// <summary>A snapshot of the members this node knows, with their links.</summary>
    public IReadOnlyList<GroupMemberStatus> GetMembers() =>
        [.. _members.Values.Select(s => _tincan.TryGetLink(s.Peer, out ITincanLink? l) ? s with { Link = l.Status, Stats = l.GetStats() } : s).OrderBy(s => s.Peer.Value, StringComparer.Ordinal)];

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

        _tincan.AttachInterface(_nic, tap ? _switch : _routes);
        LogStarted(_logger, _options.Group, _signaling.LocalId.Value, string.Join(' ', _addresses), _nic.Name, _options.Mode);
    }

    bool ILinkPolicy.IsTrusted(OverlayPeer peer)
    {
        bool member = peer.Presence == PeerPresence.Online
            && peer.Relationship.HasFlag(PeerRelationship.GroupMember)
            && peer.Groups.Contains(_options.Group, StringComparer.OrdinalIgnoreCase);
        if (member)
        {
            _members.TryAdd(peer.Id, new GroupMemberStatus(peer.Id, peer.User, [], null, null));
        }

        return member;
    }

    LinkNegotiationMessage ILinkPolicy.Describe(PeerId peer, LinkDescriptor? descriptor) => new(descriptor, _addresses, _nic?.MacAddress);

    async Task ILinkPolicy.OnClaimsAsync(PeerId peer, LinkNegotiationMessage message, ITincanLink? link, CancellationToken ct)
    {
        var valid = message.Addresses.Where(a => _subnet.Contains(a.Address) || (_subnetV6 is { } v6 && v6.Contains(a.Address))).ToImmutableArray();
        if (valid.Length != message.Addresses.Length)
        {
            LogIgnoredAddresses(_logger, peer.Value, string.Join(' ', message.Addresses.Except(valid)));
        }

        _claims[peer] = valid;
        if (_members.TryGetValue(peer, out GroupMemberStatus? status))
        {
            _members[peer] = status with { Addresses = valid };
        }

        if (link is not null)
        {
            _routes.RemoveRoutes(link);
            foreach (InterfaceAddress a in valid)
            {
                _routes.SetRoute(new IPNetwork(a.Address, a.Address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128), link);
            }
        }

        InterfaceAddress mine = _addresses[0];
        if (valid.Any(a => a.Address.Equals(mine.Address)) && string.IsNullOrEmpty(_options.Address)
            && GroupAddressAllocator.MustYield(_signaling.LocalId.Value, peer.Value))
        {
            InterfaceAddress next = _allocator!.MoveNext(_claims.Values.SelectMany(c => c).Select(a => a.Address).ToHashSet());
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

            await _negotiator.AnnounceAsync(ct);
        }
    }

    void ILinkPolicy.OnForgotten(PeerId peer, ITincanLink? link)
    {
        _members.TryRemove(peer, out _);
        _claims.Remove(peer);
        if (link is not null)
        {
            _routes.RemoveRoutes(link);
            _switch.Forget(link);
        }
    }

    void ILinkPolicy.OnTick() => _switch.Purge();

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

    [LoggerMessage(3, LogLevel.Warning, "address {Address} is also claimed by {Peer}; moving to {Next}")]
    private static partial void LogAddressConflict(ILogger logger, string address, string peer, string next);
}
