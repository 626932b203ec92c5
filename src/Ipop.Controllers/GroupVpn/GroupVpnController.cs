using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Threading.Channels;
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
/// All decisions run on one loop fed by a channel (signaling events, link events, a 1 s tick), so the
/// controller's state needs no locks. Of two members, the one whose node id sorts lower sends the link
/// offer; the other answers, so there is never glare. A peer is trusted only while signaling reports it
/// online in the group; the moment it is not, its link is removed and its key revoked.
/// </remarks>
public sealed partial class GroupVpnController : IController
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly IVirtualInterfaceFactory _interfaces;
    private readonly GroupVpnOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<PeerId, Member> _members = [];
    private readonly ConcurrentDictionary<PeerId, GroupMemberStatus> _status = new();
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
    }

    /// <summary>This node's addresses in the group (empty until running).</summary>
    public IReadOnlyList<InterfaceAddress> Addresses => _addresses;

    /// <summary>The name of the virtual interface once created.</summary>
    public string? InterfaceName => _nic?.Name;

    /// <summary>A snapshot of the members this node knows, with their links.</summary>
    public IReadOnlyList<GroupMemberStatus> GetMembers() =>
        [.. _status.Values.Select(s => _tincan.TryGetLink(s.Peer, out ITincanLink? l) ? s with { Link = l.Status, Stats = l.GetStats() } : s).OrderBy(s => s.Peer.Value, StringComparer.Ordinal)];

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

        _signaling.PeerChanged += OnPeerChanged;
        _signaling.MessageReceived += OnMessageReceived;
        _tincan.LinkStatusChanged += OnLinkStatusChanged;
        using ITimer ticker = _time.CreateTimer(_ => _events.Writer.TryWrite(TickEvent.Instance), null, Tick, Tick);
        try
        {
            await _signaling.ConnectAsync(cancellationToken);
            await _signaling.JoinGroupAsync(_options.Group, cancellationToken);
            _allocator = new GroupAddressAllocator(_subnet, _signaling.LocalId.Value);
            InterfaceAddress v4 = string.IsNullOrEmpty(_options.Address) ? _allocator.Current : new InterfaceAddress(IPAddress.Parse(_options.Address), _subnet.PrefixLength);
            _addresses = WithIpv6(v4);
            CreateInterface();
            LogStarted(_logger, _options.Group, _signaling.LocalId.Value, string.Join(' ', _addresses), _nic!.Name, _options.Mode);

            foreach (OverlayPeer peer in _signaling.Peers)
            {
                await HandlePeerAsync(peer, cancellationToken);
            }

            await foreach (object e in _events.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    await HandleAsync(e, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // One bad event must never stop the controller serving everyone else.
                    LogEventFailed(_logger, e.GetType().Name, ex);
                }
            }
        }
        finally
        {
            _signaling.PeerChanged -= OnPeerChanged;
            _signaling.MessageReceived -= OnMessageReceived;
            _tincan.LinkStatusChanged -= OnLinkStatusChanged;
            foreach (PeerId peer in _members.Keys.ToList())
            {
                _tincan.RemoveLink(peer);
            }

            _nic?.Dispose();
        }
    }

    private void OnPeerChanged(object? sender, OverlayPeerEventArgs e) => _events.Writer.TryWrite(e);

    private void OnMessageReceived(object? sender, OverlayMessageEventArgs e) => _events.Writer.TryWrite(e);

    private void OnLinkStatusChanged(object? sender, LinkStatusChangedEventArgs e) => _events.Writer.TryWrite(e);

    private Task HandleAsync(object e, CancellationToken ct) => e switch
    {
        OverlayPeerEventArgs p => HandlePeerAsync(p.Current, ct),
        OverlayMessageEventArgs m => HandleMessageAsync(m.From, m.Message, ct),
        LinkStatusChangedEventArgs l => HandleLinkStatus(l),
        TickEvent => HandleTickAsync(ct),
        _ => Task.CompletedTask,
    };

    private bool IsMember(OverlayPeer peer) =>
        peer.Presence == PeerPresence.Online
        && peer.Relationship.HasFlag(PeerRelationship.GroupMember)
        && peer.Groups.Contains(_options.Group, StringComparer.OrdinalIgnoreCase);

    private bool IsInitiator(PeerId peer) => string.CompareOrdinal(_signaling.LocalId.Value, peer.Value) < 0;

    private async Task HandlePeerAsync(OverlayPeer peer, CancellationToken ct)
    {
        if (peer.Id == _signaling.LocalId)
        {
            return;
        }

        if (!IsMember(peer))
        {
            if (_members.Remove(peer.Id, out Member? gone))
            {
                Forget(gone);
                LogMemberLeft(_logger, peer.Id.Value, peer.Presence.ToString());
            }

            return;
        }

        if (!_members.TryGetValue(peer.Id, out Member? member))
        {
            member = new Member(peer);
            _members[peer.Id] = member;
            _status[peer.Id] = new GroupMemberStatus(peer.Id, peer.User, [], null, null);
            LogMemberJoined(_logger, peer.Id.Value);
            if (IsInitiator(peer.Id))
            {
                await SendNegotiationAsync(member, LinkNegotiationMessage.OfferKind, ct);
            }
        }
    }

    private async Task HandleMessageAsync(PeerId from, OverlayMessage message, CancellationToken ct)
    {
        OverlayPeer? peer = _signaling.Peers.FirstOrDefault(p => p.Id == from);
        if (peer is null || !IsMember(peer))
        {
            LogUntrustedMessage(_logger, from.Value, message.Kind);
            return;
        }

        if (!_members.TryGetValue(from, out Member? member))
        {
            await HandlePeerAsync(peer, ct);
            member = _members[from];
        }

        LinkNegotiationMessage parsed;
        try
        {
            parsed = LinkNegotiationMessage.Parse(message.Body);
        }
        catch (FormatException e)
        {
            LogBadMessage(_logger, from.Value, message.Kind, e.Message);
            return;
        }

        switch (message.Kind)
        {
            case LinkNegotiationMessage.OfferKind when parsed.Descriptor is not null:
                await ApplyClaimsAsync(member, parsed, ct);
                Link(member, parsed.Descriptor);
                await SendNegotiationAsync(member, LinkNegotiationMessage.AnswerKind, ct);
                break;
            case LinkNegotiationMessage.AnswerKind when parsed.Descriptor is not null:
                await ApplyClaimsAsync(member, parsed, ct);
                Link(member, parsed.Descriptor);
                break;
            case LinkNegotiationMessage.RequestKind when IsInitiator(from):
                await SendNegotiationAsync(member, LinkNegotiationMessage.OfferKind, ct);
                break;
            case LinkNegotiationMessage.AddressKind:
                await ApplyClaimsAsync(member, parsed, ct);
                break;
            default:
                LogBadMessage(_logger, from.Value, message.Kind, "unexpected kind, or an offer/answer without a descriptor");
                break;
        }
    }

    private Task HandleLinkStatus(LinkStatusChangedEventArgs e)
    {
        if (!_members.TryGetValue(e.Link.Peer, out Member? member))
        {
            return Task.CompletedTask;
        }

        LinkStatus s = e.Current;
        if (s.State == LinkState.Connected)
        {
            member.Failures = 0;
            member.RetryAt = null;
            LogLinkUp(_logger, member.Peer.Id.Value, s.Path.ToString());
        }
        else if (s.State == LinkState.Failed)
        {
            member.Failures++;
            double delay = Math.Min(_options.LinkRetryMinSeconds * Math.Pow(2, member.Failures - 1), _options.LinkRetryMaxSeconds);
            member.RetryAt = _time.GetUtcNow() + TimeSpan.FromSeconds(delay * (0.8 + (0.4 * Random.Shared.NextDouble())));
            LogLinkFailed(_logger, member.Peer.Id.Value, s.ToString(), delay);
        }

        return Task.CompletedTask;
    }

    private async Task HandleTickAsync(CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        foreach (Member m in _members.Values)
        {
            if (m.RetryAt is { } at && at <= now)
            {
                m.RetryAt = null;
                await SendNegotiationAsync(m, IsInitiator(m.Peer.Id) ? LinkNegotiationMessage.OfferKind : LinkNegotiationMessage.RequestKind, ct);
            }
        }

        _switch.Purge();
    }

    private void Link(Member member, LinkDescriptor descriptor)
    {
        member.Link = _tincan.CreateLink(member.Peer.Id, descriptor);
        UpdateRoutes(member);
    }

    private async Task ApplyClaimsAsync(Member member, LinkNegotiationMessage message, CancellationToken ct)
    {
        var valid = message.Addresses.Where(a => _subnet.Contains(a.Address) || (_subnetV6 is { } v6 && v6.Contains(a.Address))).ToImmutableArray();
        if (valid.Length != message.Addresses.Length)
        {
            LogBadMessage(_logger, member.Peer.Id.Value, "addresses", $"ignored addresses outside the group subnet: {string.Join(' ', message.Addresses.Except(valid))}");
        }

        member.Addresses = valid;
        _status[member.Peer.Id] = new GroupMemberStatus(member.Peer.Id, member.Peer.User, valid, null, null);
        UpdateRoutes(member);

        InterfaceAddress mine = _addresses[0];
        if (valid.Any(a => a.Address.Equals(mine.Address)) && string.IsNullOrEmpty(_options.Address)
            && GroupAddressAllocator.MustYield(_signaling.LocalId.Value, member.Peer.Id.Value))
        {
            var taken = _members.Values.SelectMany(m => m.Addresses).Select(a => a.Address).ToHashSet();
            InterfaceAddress next = _allocator!.MoveNext(taken);
            LogAddressConflict(_logger, mine.ToString(), member.Peer.Id.Value, next.ToString());
            ImmutableArray<InterfaceAddress> old = _addresses;
            _addresses = WithIpv6(next);
            foreach (InterfaceAddress a in old)
            {
                _nic!.RemoveAddress(a);
            }

            foreach (InterfaceAddress a in _addresses)
            {
                _nic!.AddAddress(a);
            }

            foreach (Member m in _members.Values)
            {
                await SendNegotiationAsync(m, LinkNegotiationMessage.AddressKind, ct);
            }
        }
    }

    private void UpdateRoutes(Member member)
    {
        if (member.Link is null)
        {
            return;
        }

        _routes.RemoveRoutes(member.Link);
        foreach (InterfaceAddress a in member.Addresses)
        {
            _routes.SetRoute(new IPNetwork(a.Address, a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128), member.Link);
        }
    }

    private void Forget(Member member)
    {
        _status.TryRemove(member.Peer.Id, out _);
        if (member.Link is not null)
        {
            _routes.RemoveRoutes(member.Link);
            _switch.Forget(member.Link);
        }

        _tincan.RemoveLink(member.Peer.Id);
    }

    private async Task SendNegotiationAsync(Member member, string kind, CancellationToken ct)
    {
        try
        {
            LinkDescriptor? descriptor = kind is LinkNegotiationMessage.OfferKind or LinkNegotiationMessage.AnswerKind
                ? await _tincan.GetLocalDescriptorAsync(ct)
                : null;
            var body = new LinkNegotiationMessage(descriptor, _addresses, _nic?.MacAddress);
            await _signaling.SendAsync(member.Peer.Id, new OverlayMessage(kind, body.ToJson()), ct);
            LogSent(_logger, kind, member.Peer.Id.Value);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            // Signaling is down or the peer left; the retry tick or the peer's next presence tries again.
            member.RetryAt ??= _time.GetUtcNow() + TimeSpan.FromSeconds(_options.LinkRetryMinSeconds);
            LogSendFailed(_logger, kind, member.Peer.Id.Value, e.Message);
        }
    }

    private ImmutableArray<InterfaceAddress> WithIpv6(InterfaceAddress v4)
    {
        if (_subnetV6 is not { } v6)
        {
            return [v4];
        }

        byte[] bytes = v6.BaseAddress.GetAddressBytes();
        byte[] host = v4.Address.GetAddressBytes();
        int hostBits = 32 - _subnet.PrefixLength;
        uint hostNumber = ((uint)host[0] << 24 | (uint)host[1] << 16 | (uint)host[2] << 8 | host[3]) & (hostBits == 32 ? uint.MaxValue : (1u << hostBits) - 1);
        bytes[12] = (byte)(hostNumber >> 24);
        bytes[13] = (byte)(hostNumber >> 16);
        bytes[14] = (byte)(hostNumber >> 8);
        bytes[15] = (byte)hostNumber;
        return [v4, new InterfaceAddress(new IPAddress(bytes), v6.PrefixLength)];
    }

    private void CreateInterface()
    {
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
    }

    private sealed class Member(OverlayPeer peer)
    {
        public OverlayPeer Peer { get; } = peer;

        public ImmutableArray<InterfaceAddress> Addresses { get; set; } = [];

        public ITincanLink? Link { get; set; }

        public int Failures { get; set; }

        public DateTimeOffset? RetryAt { get; set; }
    }

    private sealed class TickEvent
    {
        public static TickEvent Instance { get; } = new();
    }

    [LoggerMessage(1, LogLevel.Information, "GroupVPN {Group}: node {Node} at {Addresses} on {Interface} ({Mode})")]
    private static partial void LogStarted(ILogger logger, string group, string node, string addresses, string @interface, string mode);

    [LoggerMessage(2, LogLevel.Information, "member {Peer} joined")]
    private static partial void LogMemberJoined(ILogger logger, string peer);

    [LoggerMessage(3, LogLevel.Information, "member {Peer} left ({Presence}): link removed, key revoked")]
    private static partial void LogMemberLeft(ILogger logger, string peer, string presence);

    [LoggerMessage(4, LogLevel.Warning, "ignored {Kind} from {Peer}: not an online member of the group")]
    private static partial void LogUntrustedMessage(ILogger logger, string peer, string kind);

    [LoggerMessage(5, LogLevel.Warning, "rejected {Kind} from {Peer}: {Reason}")]
    private static partial void LogBadMessage(ILogger logger, string peer, string kind, string reason);

    [LoggerMessage(6, LogLevel.Information, "link {Peer} up ({Path})")]
    private static partial void LogLinkUp(ILogger logger, string peer, string path);

    [LoggerMessage(7, LogLevel.Warning, "link {Peer}: {Status}; retrying in about {DelaySeconds} s")]
    private static partial void LogLinkFailed(ILogger logger, string peer, string status, double delaySeconds);

    [LoggerMessage(8, LogLevel.Warning, "address {Address} is also claimed by {Peer}; moving to {Next}")]
    private static partial void LogAddressConflict(ILogger logger, string address, string peer, string next);

    [LoggerMessage(9, LogLevel.Debug, "sent {Kind} to {Peer}")]
    private static partial void LogSent(ILogger logger, string kind, string peer);

    [LoggerMessage(10, LogLevel.Warning, "could not send {Kind} to {Peer}: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string kind, string peer, string reason);

    [LoggerMessage(11, LogLevel.Error, "GroupVPN event {Event} failed")]
    private static partial void LogEventFailed(ILogger logger, string @event, Exception exception);
}
