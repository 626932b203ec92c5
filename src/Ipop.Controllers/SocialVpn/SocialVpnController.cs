using System.Collections.Concurrent;
using System.Net;
using Ipop.Controllers.Negotiation;
using Ipop.Controllers.SocialVpn;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ipop.Controllers;

/// <summary>
/// SocialVPN: links only to devices of friends (mutual subscription), never to friends of friends.
/// Every node has its own private IPv4 view: it owns the first address of its pool and gives each friend
/// device an address in it (stable across restarts). Packets arrive addressed in the sender's view and
/// the receiving node translates them into its own (IPv4 header and TCP/UDP/ICMP checksums updated incrementally, RFC 1624).
/// </summary>
public sealed partial class SocialVpnController : IController, INegotiationPolicy
{
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly IVirtualInterfaceFactory _interfaces;
    private readonly SocialVpnOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LinkNegotiator _negotiator;
    private readonly ConcurrentDictionary<PeerId, FriendStatus> _friends = new();
    private readonly ConcurrentDictionary<string, byte> _pendingRequests = new(StringComparer.Ordinal);
    private FriendAddressBook? _book;
    private SocialVpnRouter? _router;
    private IVirtualInterface? _nic;
    private FriendNameServer? _dns;

    /// <summary>Creates the controller; nothing happens until <see cref="RunAsync"/>.</summary>
    public SocialVpnController(
        IOverlaySignaling signaling,
        ITincan tincan,
        IVirtualInterfaceFactory interfaces,
        IOptions<SocialVpnOptions> options,
        ILogger<SocialVpnController> logger,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _signaling = signaling;
        _tincan = tincan;
        _interfaces = interfaces;
        _options = options.Value;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _negotiator = new LinkNegotiator(signaling, tincan, this, new NegotiationSettings
        {
            RetryMin = TimeSpan.FromSeconds(_options.LinkRetryMinSeconds),
            RetryMax = TimeSpan.FromSeconds(_options.LinkRetryMaxSeconds),
            OutageLinkLifetime = TimeSpan.FromSeconds(_options.SignalingOutageLinkLifetimeSeconds),
        }, _time, logger);
    }

    /// <summary>This node's address in its own view (once running).</summary>
    public InterfaceAddress? Address => _book?.Self;

    /// <summary>The pool this node's view uses (once running).</summary>
    public IPNetwork? Pool => _book?.Pool;

    /// <summary>The name of the virtual interface once created.</summary>
    public string? InterfaceName => _nic?.Name;

    /// <summary>Friend requests waiting for an answer (when signaling asks instead of deciding by policy).</summary>
    public IReadOnlyCollection<string> PendingFriendRequests => [.. _pendingRequests.Keys];

    /// <summary>Friends' devices with their addresses in our view and their links.</summary>
    public IReadOnlyList<FriendStatus> GetFriends() =>
        [.. _friends.Values.Select(s => _tincan.TryGetLink(s.Peer, out ITincanLink? l) ? s with { Link = l.Status, Stats = l.GetStats() } : s).OrderBy(s => s.Name, StringComparer.Ordinal)];

    /// <summary>Answers a pending friend request.</summary>
    public async Task RespondToFriendRequestAsync(string user, bool accept, CancellationToken cancellationToken)
    {
        await _signaling.RespondToFriendRequestAsync(user, accept, cancellationToken);
        _pendingRequests.TryRemove(user, out _);
    }

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> errors = _options.Validate();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(nameof(SocialVpnOptions), typeof(SocialVpnOptions), errors);
        }

        IPNetwork pool = string.IsNullOrEmpty(_options.Pool)
            ? AddressPoolSelector.Select(AddressPoolSelector.DefaultCandidates, AddressPoolSelector.HostSubnets(_options.InterfaceName))
            : IPNetwork.Parse(_options.Pool);
        _book = new FriendAddressBook(pool, string.IsNullOrEmpty(_options.AddressBookPath) ? null : _options.AddressBookPath, TimeSpan.FromHours(_options.RecycleAfterHours), _time);
        _router = CreateRouter(pool);
        _signaling.FriendRequestReceived += OnFriendRequest;
        try
        {
            await _negotiator.RunAsync(StartAsync, cancellationToken);
        }
        finally
        {
            _signaling.FriendRequestReceived -= OnFriendRequest;
            StopOnDemand();
            if (_dns is not null)
            {
                await _dns.DisposeAsync();
            }

            _nic?.Dispose();
        }
    }

    private Task StartAsync(CancellationToken ct)
    {
        _nic = _interfaces.Create(new VirtualInterfaceOptions
        {
            Name = _options.InterfaceName,
            Mode = VirtualInterfaceMode.Tun,
            Mtu = _options.Mtu,
            Addresses = [_book!.Self],
        });
        _tincan.AttachInterface(_nic, _router!);
        if (_options.EnableDns)
        {
            _dns = FriendNameServer.Start(_book.Self.Address, _options.NameSuffix, Resolve, _logger);
        }

        LogStarted(_logger, _signaling.LocalId.Value, _book.Self.ToString(), _nic.Name);
        return Task.CompletedTask;
    }

    private IPAddress? Resolve(string name) =>
        _friends.Values.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)
            || string.Equals(f.Peer.Value.Split('/').Last() + "." + f.Name, name, StringComparison.OrdinalIgnoreCase))?.Address.Address;

    private void OnFriendRequest(object? sender, FriendRequestEventArgs e)
    {
        _pendingRequests[e.User] = 0;
        LogFriendRequest(_logger, e.User);
    }

    bool INegotiationPolicy.IsTrusted(OverlayPeer peer)
    {
        // Friends of friends are never linked: only our own mutual subscriptions count.
        bool friend = peer.Presence == PeerPresence.Online && peer.Relationship.HasFlag(PeerRelationship.Friend);
        if (friend && !_friends.ContainsKey(peer.Id))
        {
            IPAddress address = _book!.AddressOf(peer.Id);
            string name = $"{peer.User.Split('@')[0]}.{_options.NameSuffix}";
            _friends[peer.Id] = new FriendStatus(peer.Id, peer.User, name, new InterfaceAddress(address, _book.Pool.PrefixLength), null, null);
            _router!.SetFriendAddress(address, peer.Id); // on demand, its first packet finds it without a link
        }

        return friend;
    }

    bool INegotiationPolicy.WantsLink(OverlayPeer peer) => WantsLinkOnDemand(peer);

    LinkNegotiationMessage INegotiationPolicy.Describe(PeerId peer, LinkDescriptor? descriptor) =>
        new(descriptor, [_book!.Self], null) { Assigned = new InterfaceAddress(_book.AddressOf(peer), _book.Pool.PrefixLength) };

    Task INegotiationPolicy.OnClaimsAsync(PeerId peer, LinkNegotiationMessage message, ITincanLink? link, CancellationToken cancellationToken)
    {
        InterfaceAddress? peerSelf = message.Addresses.FirstOrDefault(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        if (link is null || peerSelf is not { } self || message.Assigned is not { } assigned)
        {
            LogIncompleteClaims(_logger, peer.Value);
            return Task.CompletedTask;
        }

        IPAddress myViewOfPeer = _book!.AddressOf(peer);
        var translation = new Ipv4Translation(
            SocialVpnRouter.ToUInt32(self.Address),
            SocialVpnRouter.ToUInt32(assigned.Address),
            SocialVpnRouter.ToUInt32(myViewOfPeer),
            SocialVpnRouter.ToUInt32(_book.Self.Address));
        _router!.SetFriend(link, myViewOfPeer, translation);
        LogMapped(_logger, peer.Value, myViewOfPeer.ToString(), self.Address.ToString(), assigned.Address.ToString());
        if (link.Status.State == LinkState.Connected)
        {
            _router.ReleaseHeld(link); // connected before its claims arrived: its Connected event found nothing to send yet
        }

        return Task.CompletedTask;
    }

    void INegotiationPolicy.OnLinkReplaced(PeerId peer, ITincanLink old) => _router!.RemoveFriend(old);

    /// <summary>The friends' addresses in our view (once running).</summary>
    internal FriendAddressBook? Book => _book;

    /// <summary>The negotiation loop (tests wait on it going idle).</summary>
    internal LinkNegotiator Negotiator => _negotiator;

    void INegotiationPolicy.OnForgotten(PeerId peer, ITincanLink? link)
    {
        if (_friends.TryRemove(peer, out FriendStatus? gone))
        {
            _router!.RemoveFriendAddress(gone.Address.Address);
        }

        ForgetDemand(peer);
        if (link is not null)
        {
            _router!.RemoveFriend(link);
        }
    }

    TimeSpan? INegotiationPolicy.OnTick() => TickOnDemand();

    [LoggerMessage(1, LogLevel.Information, "SocialVPN node {Node} at {Address} on {Interface}")]
    private static partial void LogStarted(ILogger logger, string node, string address, string @interface);

    [LoggerMessage(2, LogLevel.Information, "friend {Peer} is {Address} in our view (it is {PeerSelf} in its own and calls us {Assigned})")]
    private static partial void LogMapped(ILogger logger, string peer, string address, string peerSelf, string assigned);

    [LoggerMessage(3, LogLevel.Warning, "friend {Peer} sent no own address or no address for us; cannot translate its packets yet")]
    private static partial void LogIncompleteClaims(ILogger logger, string peer);

    [LoggerMessage(4, LogLevel.Information, "friend request from {User} is waiting for an answer")]
    private static partial void LogFriendRequest(ILogger logger, string user);
}
