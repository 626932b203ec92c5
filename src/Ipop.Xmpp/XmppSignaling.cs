using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Xml.Linq;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Roster;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Xmpp;

/// <summary>
/// <see cref="IOverlaySignaling"/> over XMPP: RFC 6120 session (STARTTLS, SCRAM, bind), RFC 6121 roster
/// and presence for friends, XEP-0045 rooms for groups, XEP-0199 keepalive, reconnect with backoff.
/// </summary>
/// <remarks>
/// Peers are the sessions (full JIDs) whose presence carries the <c>&lt;ipop xmlns='urn:ipop:signaling:1'/&gt;</c>
/// marker; other clients of the same or other users are ignored. A peer is a
/// <see cref="PeerRelationship.Friend"/> when the roster subscription is <c>both</c> (or it is another node
/// of our own user) and a <see cref="PeerRelationship.GroupMember"/> while it is an occupant of a joined
/// room whose member list holds its user (affiliation member, admin or owner) and the room shows its real JID;
/// group names are the rooms' bare JIDs. Occupants without membership are refused (logged, never a peer). Messages are
/// <c>&lt;message type='normal'&gt;&lt;ipop xmlns='urn:ipop:signaling:1' kind='…'&gt;body&lt;/ipop&gt;&lt;/message&gt;</c>
/// to the peer's full JID and are accepted only from online friends or group members.
/// </remarks>
public sealed partial class XmppSignaling : IOverlaySignaling
{
    /// <summary>Roster group under which we file contacts we ask for friendship.</summary>
    internal const string RosterGroup = "Ipop";

    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a peer that went offline stays in <see cref="Peers"/> ("recently offline").</summary>
    internal static readonly TimeSpan OfflineRetention = TimeSpan.FromMinutes(10);

    /// <summary>How long Dispose waits for the server's closing tag after ours (RFC 6120 §4.4).</summary>
    private static readonly TimeSpan StreamCloseWait = TimeSpan.FromSeconds(1);

    private readonly XmppSignalingOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Jid _account;
    private readonly string _resource;
    private readonly string _mucService;
    private readonly object _gate = new();
    private readonly Dictionary<string, RosterItem> _roster = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rosterOnline = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MucRoom> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OverlayPeer> _peers = new(StringComparer.Ordinal);

    // Full JID -> when that peer went offline. Offline peers stay listed for OfflineRetention, then go: every node
    // restart is a new resource, and a node that runs for months must not collect them all.
    private readonly Dictionary<string, long> _offlineSince = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pendingRequests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingIq> _pendingIq = new(StringComparer.Ordinal);
    private readonly SerialEventQueue _events;
    private readonly CancellationTokenSource _lifetime = new();
    private XmppConnection? _connection;
    private Task? _supervisor;
    private bool _connected;
    private long _nextId;
    private long _droppedMessages;
    private int _disposed;

    /// <summary>Creates a node; nothing happens on the network until <see cref="ConnectAsync"/>.</summary>
    /// <param name="options">Account, server, TLS and policy settings (validated here).</param>
    /// <param name="logger">Logger; none if null.</param>
    /// <param name="timeProvider">Clock for keepalives, timeouts and backoff; the system clock if null.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is invalid; the message names it.</exception>
    public XmppSignaling(XmppSignalingOptions options, ILogger<XmppSignaling>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        XmppSignalingOptionsValidator.ThrowIfInvalid(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _account = Jid.Parse(options.Jid);
        _resource = $"{options.ResourcePrefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        _mucService = options.MucService ?? "conference." + _account.Domain;
        LocalId = new PeerId(new Jid(_account.Local, _account.Domain, _resource).Full);
        Nickname = options.Nickname ?? $"{_account.Local}.{_resource}";
        _events = new SerialEventQueue(ex => LogHandlerFailed(_logger, ex));
        foreach (string group in options.Groups)
        {
            string room = RoomJid(group);
            _rooms[room] = new MucRoom(room, Nickname);
        }
    }

    /// <inheritdoc />
    public PeerId LocalId { get; private set; }

    /// <inheritdoc />
    public string LocalUser => _account.Bare;

    /// <summary>Our nickname in rooms.</summary>
    public string Nickname { get; }

    /// <inheritdoc />
    public bool IsConnected
    {
        get
        {
            lock (_gate)
            {
                return _connected;
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyCollection<OverlayPeer> Peers
    {
        get
        {
            lock (_gate)
            {
                return [.. _peers.Values];
            }
        }
    }

    /// <summary>Roster entries currently known (for diagnostics and tests).</summary>
    internal int RosterCount
    {
        get
        {
            lock (_gate)
            {
                return _roster.Count;
            }
        }
    }

    /// <summary>The roster groups of a contact, or null if not on the roster (for diagnostics and tests).</summary>
    internal ImmutableArray<string>? RosterGroupsOf(string user)
    {
        lock (_gate)
        {
            return _roster.TryGetValue(user, out RosterItem? item) ? item.Groups : null;
        }
    }

    /// <summary>Messages dropped because they came from untrusted senders or were malformed.</summary>
    public long DroppedMessages => Interlocked.Read(ref _droppedMessages);

    /// <inheritdoc />
    public event EventHandler<OverlayPeerEventArgs>? PeerChanged;

    /// <inheritdoc />
    public event EventHandler<OverlayMessageEventArgs>? MessageReceived;

    /// <inheritdoc />
    public event EventHandler<FriendRequestEventArgs>? FriendRequestReceived;

    /// <inheritdoc />
    public event EventHandler<SignalingConnectionEventArgs>? ConnectionChanged;

    /// <inheritdoc />
    /// <remarks>
    /// A login that fails for a reason that may pass (timeout, network error, the server closing or
    /// restarting, a request not answered) is retried with the reconnect backoff (capped, with jitter)
    /// until it succeeds or <paramref name="cancellationToken"/> is cancelled; each failed attempt is
    /// logged. Only failures that retrying cannot fix are thrown at once.
    /// </remarks>
    /// <exception cref="XmppSignalingException">
    /// The login cannot succeed as configured: bad credentials or no usable SASL mechanism
    /// (<see cref="XmppErrorKind.Authentication"/>), an untrusted certificate or missing TLS
    /// (<see cref="XmppErrorKind.Tls"/>), a server that breaks the protocol or refuses our account
    /// with a stream error (<see cref="XmppErrorKind.Protocol"/>), or a server host name that does not
    /// exist in DNS (<see cref="XmppErrorKind.Network"/>). The message says which.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the node disposed, before a login succeeded.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_gate)
        {
            if (_supervisor is not null || _connection is not null)
            {
                throw new InvalidOperationException("ConnectAsync was already called.");
            }
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        Task<string> session;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                session = await StartSessionAsync(stop.Token);
                break;
            }
            catch (Exception ex) when (IsRetryableLogin(ex) && !stop.IsCancellationRequested)
            {
                TimeSpan delay = Backoff(attempt);
                LogLoginRetry(_logger, attempt + 1, ex.Message, delay);
                await Task.Delay(delay, _time, stop.Token);
            }
        }

        lock (_gate)
        {
            _supervisor = Task.Run(() => SuperviseAsync(session), CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public async Task SendAsync(PeerId to, OverlayMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ValidateMessage(message);
        if (!Jid.TryParse(to.Value, out Jid target) || target.IsBare)
        {
            throw new ArgumentException($"'{to}' is not a full JID of a peer node.", nameof(to));
        }

        XmppConnection connection = RequireConnection();
        await SendOnAsync(connection, StanzaBuilder.IpopMessage(NextId(), target.Full, message), cancellationToken);
    }

    /// <inheritdoc />
    public async Task RequestFriendshipAsync(string user, CancellationToken cancellationToken)
    {
        Jid jid = ParseUser(user);
        XmppConnection connection = RequireConnection();
        bool approve;
        lock (_gate)
        {
            approve = _pendingRequests.Remove(jid.Bare);
        }

        bool known;
        lock (_gate)
        {
            known = _roster.ContainsKey(jid.Bare);
        }

        if (!known)
        {
            // RFC 6121 §2.1.5: file the contact under our roster group so IM clients of the same account show Ipop peers together.
            await RequestAsync(connection, StanzaBuilder.RosterSet(NextId(), jid.Bare, remove: false, [RosterGroup]), TimeSpan.FromSeconds(10), cancellationToken);
        }

        if (approve)
        {
            await SendOnAsync(connection, StanzaBuilder.Subscription(jid.Bare, "subscribed"), cancellationToken);
        }

        await SendOnAsync(connection, StanzaBuilder.Subscription(jid.Bare, "subscribe"), cancellationToken);
    }

    /// <inheritdoc />
    public async Task RespondToFriendRequestAsync(string user, bool accept, CancellationToken cancellationToken)
    {
        Jid jid = ParseUser(user);
        XmppConnection connection = RequireConnection();
        bool subscribeBack;
        lock (_gate)
        {
            _pendingRequests.Remove(jid.Bare);
            subscribeBack = !(_roster.TryGetValue(jid.Bare, out RosterItem? item) && item.WeAsked);
        }

        if (!accept)
        {
            await SendOnAsync(connection, StanzaBuilder.Subscription(jid.Bare, "unsubscribed"), cancellationToken);
            return;
        }

        await SendOnAsync(connection, StanzaBuilder.Subscription(jid.Bare, "subscribed"), cancellationToken);
        if (subscribeBack)
        {
            await SendOnAsync(connection, StanzaBuilder.Subscription(jid.Bare, "subscribe"), cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task RemoveFriendAsync(string user, CancellationToken cancellationToken)
    {
        Jid jid = ParseUser(user);

        // RFC 6121 §2.5.3: removing the roster item cancels the subscription in both directions.
        await RequestAsync(StanzaBuilder.RosterSet(NextId(), jid.Bare, remove: true), cancellationToken);
    }

    internal static void ValidateMessage(OverlayMessage message)
    {
        if (!IsValidKind(message.Kind))
        {
            throw new ArgumentException($"Message kind '{message.Kind}' must be 1..64 letters, digits or '-'.", nameof(message));
        }

        if (message.Body is null || message.Body.Length > OverlayMessage.MaxBodyLength)
        {
            throw new ArgumentException($"Message body must be at most {OverlayMessage.MaxBodyLength} characters.", nameof(message));
        }
    }

    internal static bool IsValidKind(string? kind)
        => kind is { Length: > 0 and <= 64 } && kind.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static Jid ParseUser(string user)
    {
        if (!Jid.TryParse(user, out Jid jid) || jid.Local is null)
        {
            throw new ArgumentException($"'{user}' is not a user JID (user@domain).", nameof(user));
        }

        return jid.ToBare();
    }

    private string RoomJid(string group)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        string text = group.Contains('@', StringComparison.Ordinal) ? group : $"{group}@{_mucService}";
        if (!Jid.TryParse(text, out Jid room) || !room.IsBare || room.Local is null)
        {
            throw new ArgumentException($"'{group}' is not a room name or bare room JID.", nameof(group));
        }

        return room.Bare;
    }

    private XmppConnection RequireConnection()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_gate)
        {
            return _connected && _connection is not null ? _connection : throw new InvalidOperationException("Not connected to the XMPP server.");
        }
    }

    /// <summary>Sends on a session; a session that dies under us is reported as "not connected" (the contract's exception).</summary>
    private static async Task SendOnAsync(XmppConnection connection, XElement stanza, CancellationToken cancellationToken)
    {
        try
        {
            await connection.SendAsync(stanza, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException("Not connected to the XMPP server: the connection was lost while sending.", ex);
        }
    }

    private string NextId() => "ipop" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed record PendingIq(TaskCompletionSource<XElement> Completion, string? ExpectedFrom);

    private static bool SameGroups(ImmutableArray<string> a, ImmutableArray<string> b) => a.AsSpan().SequenceEqual(b.AsSpan());
}
