using System.Collections.Immutable;
using Ipop.Xmpp;

namespace Ipop.Testing;

/// <summary>
/// One node on an <see cref="InMemorySignalingNetwork"/>: the <see cref="IOverlaySignaling"/> contract
/// without a server, for tests and simulations. Same rules as <see cref="XmppSignaling"/>: friends are mutual, group members are
/// peers that share a joined group, messages are delivered only from online friends or group members
/// (others are dropped and counted). A node whose session is lost keeps its last view of its peers (no
/// events) while its messages fail; the others see it go offline. On reconnect its view is recomputed from
/// the network's current state, and what changed meanwhile becomes events.
/// </summary>
public sealed class InMemorySignaling : IOverlaySignaling
{
    private readonly InMemorySignalingNetwork _network;
    private readonly Dictionary<PeerId, OverlayPeer> _peers = [];
    private readonly SerialEventQueue _events = new();
    private readonly List<TaskCompletionSource> _connectWaiters = [];
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

    /// <summary>
    /// Completes once this node's session is up (at once if it is): after <see cref="ConnectAsync"/>, or after
    /// <see cref="SimulateReconnect"/> or <see cref="InMemorySignalingNetwork.EndServerOutage"/>. The
    /// <see cref="ConnectionChanged"/> event may still be on its way: <see cref="WhenDeliveredAsync"/> waits for it.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when connected.</returns>
    public Task WaitUntilConnectedAsync(CancellationToken cancellationToken)
    {
        lock (_network.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Connected)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connectWaiters.Add(waiter);
            return waiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Completes once every event this node raised so far (peers, messages, connection, friend requests) has reached its
    /// handlers and they returned. Handlers that only queue work (as <c>LinkNegotiator</c> does) may still be busy with
    /// it. With <see cref="InMemorySignalingNetwork.ManualDelivery"/>, events wait for
    /// <see cref="InMemorySignalingNetwork.DeliverPending"/> instead, and this completes at once.
    /// </summary>
    /// <returns>A task that completes when the queue is drained up to now.</returns>
    public Task WhenDeliveredAsync() => _network.ManualDelivery ? Task.CompletedTask : _events.FlushAsync();

    internal bool Connected
    {
        get;
        set
        {
            field = value;
            if (value)
            {
                foreach (TaskCompletionSource waiter in _connectWaiters)
                {
                    waiter.TrySetResult();
                }

                _connectWaiters.Clear();
            }
        }
    }

    internal bool Started => _started && !_disposed;

    internal FriendRequestPolicy Policy { get; }

    internal HashSet<string> AcceptedFriends { get; }

    internal HashSet<string> Groups { get; } = new(StringComparer.Ordinal);

    /// <summary><see cref="Groups"/> in order, as one array shared by every peer's view of this node.</summary>
    internal ImmutableArray<string> GroupList { get; private set; } = [];

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
            if (!_network.InOutage)
            {
                // During a server outage the session comes up when the server does (EndServerOutage).
                _network.SetConnectedLocked(this, true, null);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Simulates losing the session (network to the server gone, TCP reset): this node keeps its view of its peers
    /// and its sends fail; the other nodes see it go offline (the server tells them).
    /// </summary>
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

    /// <summary>Simulates the automatic reconnect after <see cref="SimulateDisconnect"/>: presence and groups are rebuilt (not during a server outage).</summary>
    public void SimulateReconnect()
    {
        lock (_network.Gate)
        {
            if (_started && !_disposed && !Connected && !_network.InOutage)
            {
                _network.SetConnectedLocked(this, true, null);
            }
        }
    }

    /// <inheritdoc />
    public Task SendAsync(PeerId to, OverlayMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        UserIds.ValidateMessage(message);
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
            _network.DeliverLocked(target, args);
        }

        return Task.CompletedTask;
    }

    /// <summary>The announcement this node publishes with its presence (<see cref="SetAnnouncementAsync"/>), or <c>null</c>.</summary>
    public string? Announcement { get; private set; }

    /// <inheritdoc />
    public Task SetAnnouncementAsync(string? announcement, CancellationToken cancellationToken)
    {
        if (IOverlaySignaling.CheckAnnouncement(announcement) is { } problem)
        {
            throw new ArgumentException(problem, nameof(announcement));
        }

        lock (_network.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (Announcement != announcement)
            {
                Announcement = announcement;
                _network.RecomputeLocked(this);
            }
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
                GroupList = [.. Groups.Order(StringComparer.Ordinal)];
                _network.RecomputeLocked(this);
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
                GroupList = [.. Groups.Order(StringComparer.Ordinal)];
                _network.RecomputeLocked(this);
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

    internal void Post(SignalingConnectionEventArgs args) => Raise(() => ConnectionChanged?.Invoke(this, args));

    internal void Post(FriendRequestEventArgs args) => Raise(() => FriendRequestReceived?.Invoke(this, args));

    internal void Post(OverlayMessageEventArgs args) => Raise(() => MessageReceived?.Invoke(this, args));

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    /// <summary>Raises an event on this node's event queue, or queues it on the network when the test delivers by hand.</summary>
    private void Raise(Action raise)
    {
        if (_network.ManualDelivery)
        {
            _network.EnqueueLocked(raise);
        }
        else
        {
            _events.Post(raise);
        }
    }

    internal void UpdatePeerLocked(PeerId id, string user, bool online, PeerRelationship relationship, ImmutableArray<string> groups, string? announcement, bool sessionEnded = false)
    {
        _peers.TryGetValue(id, out OverlayPeer? previous);
        if (previous is null && !online)
        {
            return;
        }

        // Like XMPP: an offline peer's last announcement is kept with its last known state.
        var current = new OverlayPeer(id, user, online ? PeerPresence.Online : PeerPresence.Offline, relationship, groups)
        {
            Announcement = online ? announcement : previous?.Announcement,
        };
        if (previous is not null && previous.Presence == current.Presence && previous.Relationship == current.Relationship && previous.Groups.AsSpan().SequenceEqual(current.Groups.AsSpan())
            && previous.Announcement == current.Announcement)
        {
            return;
        }

        _peers[id] = current;
        Raise(() => PeerChanged?.Invoke(this, new OverlayPeerEventArgs(previous, current) { SessionEnded = sessionEnded && !online }));
    }

    private void RequireConnected()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Connected)
        {
            throw new InvalidOperationException("Not connected to the (in-memory) signaling network.");
        }
    }

    private static string User(string user) => UserIds.Bare(user, nameof(user));
}
