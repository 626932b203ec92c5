using System.Collections.Immutable;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp;

/// <summary>
/// One node on an <see cref="InMemorySignalingNetwork"/>: the <see cref="IOverlaySignaling"/> contract
/// without a server. Same rules as <see cref="XmppSignaling"/>: friends are mutual, group members are
/// peers that share a joined group, messages are delivered only from online friends or group members
/// (others are dropped and counted), and a lost session reports every peer offline until it is back.
/// </summary>
public sealed class InMemorySignaling : IOverlaySignaling
{
    private readonly InMemorySignalingNetwork _network;
    private readonly Dictionary<PeerId, OverlayPeer> _peers = [];
    private readonly SerialEventQueue _events = new(_ => { });
    private long _dropped;
    private bool _started;
    private bool _disposed;

    internal InMemorySignaling(InMemorySignalingNetwork network, string user, PeerId id, FriendRequestPolicy policy, HashSet<string> acceptedFriends)
    {
        _network = network;
        LocalUser = user;
        LocalId = id;
        Policy = policy;
        AcceptedFriends = acceptedFriends;
    }

    /// <inheritdoc />
    public PeerId LocalId { get; }

    /// <inheritdoc />
    public string LocalUser { get; }

    /// <inheritdoc />
    public bool IsConnected
    {
        get
        {
            lock (_network.Gate)
            {
                return Connected;
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyCollection<OverlayPeer> Peers
    {
        get
        {
            lock (_network.Gate)
            {
                return [.. _peers.Values];
            }
        }
    }

    /// <summary>Messages dropped because the sender was not trusted.</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

    internal bool Connected { get; set; }

    internal FriendRequestPolicy Policy { get; }

    internal HashSet<string> AcceptedFriends { get; }

    internal HashSet<string> Groups { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public event EventHandler<OverlayPeerEventArgs>? PeerChanged;

    /// <inheritdoc />
    public event EventHandler<OverlayMessageEventArgs>? MessageReceived;

    /// <inheritdoc />
    public event EventHandler<FriendRequestEventArgs>? FriendRequestReceived;

    /// <inheritdoc />
    public event EventHandler<SignalingConnectionEventArgs>? ConnectionChanged;

    /// <inheritdoc />
    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        lock (_network.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started)
            {
                throw new InvalidOperationException("ConnectAsync was already called.");
            }

            _started = true;
            _network.SetConnectedLocked(this, true, null);
        }

        return Task.CompletedTask;
    }

    /// <summary>Simulates losing the session (server gone, TCP reset): peers go offline on both sides.</summary>
    /// <param name="reason">The reason reported in <see cref="ConnectionChanged"/>.</param>
    public void SimulateDisconnect(string reason = "simulated outage")
    {
        lock (_network.Gate)
        {
            if (Connected)
            {
                _network.SetConnectedLocked(this, false, reason);
            }
        }
    }

    /// <summary>Simulates the automatic reconnect after <see cref="SimulateDisconnect"/>: presence and groups are rebuilt.</summary>
    public void SimulateReconnect()
    {
        lock (_network.Gate)
        {
            if (_started && !_disposed && !Connected)
            {
                _network.SetConnectedLocked(this, true, null);
            }
        }
    }

    /// <inheritdoc />
    public Task SendAsync(PeerId to, OverlayMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        XmppSignaling.ValidateMessage(message);
        lock (_network.Gate)
        {
            RequireConnected();
            InMemorySignaling? target = _network.FindLocked(to);
            if (target is null || !target.Connected || !target._peers.TryGetValue(LocalId, out OverlayPeer? me) || me.Presence != PeerPresence.Online || me.Relationship == PeerRelationship.None)
            {
                if (target is not null)
                {
                    Interlocked.Increment(ref target._dropped);
                }

                return Task.CompletedTask; // Like XMPP: sending succeeds, delivery is not guaranteed.
            }

            var args = new OverlayMessageEventArgs(LocalId, message);
            target._events.Post(() => target.MessageReceived?.Invoke(target, args));
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task JoinGroupAsync(string group, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        lock (_network.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Groups.Add(group))
            {
                _network.RecomputeLocked();
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task LeaveGroupAsync(string group, CancellationToken cancellationToken)
    {
        lock (_network.Gate)
        {
            if (Groups.Remove(group))
            {
                _network.RecomputeLocked();
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RequestFriendshipAsync(string user, CancellationToken cancellationToken)
    {
        string bare = User(user);
        lock (_network.Gate)
        {
            RequireConnected();
            _network.RequestLocked(LocalUser, bare);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RespondToFriendRequestAsync(string user, bool accept, CancellationToken cancellationToken)
    {
        string bare = User(user);
        lock (_network.Gate)
        {
            RequireConnected();
            _network.RespondLocked(LocalUser, bare, accept);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RemoveFriendAsync(string user, CancellationToken cancellationToken)
    {
        string bare = User(user);
        lock (_network.Gate)
        {
            RequireConnected();
            _network.UnfriendLocked(LocalUser, bare);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        lock (_network.Gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _network.RemoveLocked(this);
        }

        await _events.DisposeAsync();
    }

    internal void Post(SignalingConnectionEventArgs args) => _events.Post(() => ConnectionChanged?.Invoke(this, args));

    internal void Post(FriendRequestEventArgs args) => _events.Post(() => FriendRequestReceived?.Invoke(this, args));

    internal void UpdatePeerLocked(PeerId id, string user, bool online, PeerRelationship relationship, ImmutableArray<string> groups)
    {
        _peers.TryGetValue(id, out OverlayPeer? previous);
        if (previous is null && !online)
        {
            return;
        }

        var current = new OverlayPeer(id, user, online ? PeerPresence.Online : PeerPresence.Offline, relationship, groups);
        if (previous is not null && previous.Presence == current.Presence && previous.Relationship == current.Relationship && previous.Groups.AsSpan().SequenceEqual(current.Groups.AsSpan()))
        {
            return;
        }

        _peers[id] = current;
        _events.Post(() => PeerChanged?.Invoke(this, new OverlayPeerEventArgs(previous, current)));
    }

    private void RequireConnected()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Connected)
        {
            throw new InvalidOperationException("Not connected to the (in-memory) signaling network.");
        }
    }

    private static string User(string user)
        => Jid.TryParse(user, out Jid jid) && jid.Local is not null ? jid.Bare : throw new ArgumentException($"'{user}' is not a user JID (user@domain).", nameof(user));
}
