namespace Ipop;

/// <summary>
/// Who exists on the overlay and how to reach them: our identity, peers with their presence and
/// relationship to us (friend, group member), and small messages to online peers that carry link
/// negotiation. XMPP is one implementation; an in-memory one serves tests and simulation.
/// </summary>
/// <remarks>
/// <para>Events are raised on the signaling implementation's thread, one at a time, in order; handlers must not block.</para>
/// <para>
/// Outages: losing the session to the server (server down or restarting, network to it down, a stream
/// error) says nothing about the peers, so while <see cref="IsConnected"/> is false every peer keeps
/// its last known state in <see cref="Peers"/> and no <see cref="PeerChanged"/> is raised. Nothing
/// new can happen meanwhile: no messages are sent or received, so no new links can be negotiated.
/// <see cref="PeerChanged"/> reports only positive signals received while connected (a peer's
/// presence or unavailable presence, a peer joining, leaving or being removed from a group, a
/// friendship made or ended) and reconciliation after a reconnect: what changed while we were away is
/// reported once the implementation has re-read the current state (for XMPP: the roster at once, and
/// peers not heard from again within a settle time after the reconnect as offline).
/// </para>
/// </remarks>
public interface IOverlaySignaling : IAsyncDisposable
{
    /// <summary>This node's full identity on the overlay (valid after <see cref="ConnectAsync"/>).</summary>
    PeerId LocalId { get; }

    /// <summary>This node's user (bare identity, e.g. <c>alice@lab.test</c>).</summary>
    string LocalUser { get; }

    /// <summary>True while the session with the signaling server is up.</summary>
    bool IsConnected { get; }

    /// <summary>Known peer nodes (online and recently offline), with relationship and groups; while disconnected, as last known.</summary>
    IReadOnlyCollection<OverlayPeer> Peers { get; }

    /// <summary>
    /// A peer node came online, went offline, or its relationship or groups changed: only on a positive
    /// signal from the server or on reconciliation after a reconnect, never because our own session was
    /// lost (see the interface remarks).
    /// </summary>
    event EventHandler<OverlayPeerEventArgs>? PeerChanged;

    /// <summary>A message arrived from a peer node (only from peers the implementation trusts: friends or group members).</summary>
    event EventHandler<OverlayMessageEventArgs>? MessageReceived;

    /// <summary>A user asked to become our friend; answer with <see cref="RespondToFriendRequestAsync"/>.</summary>
    event EventHandler<FriendRequestEventArgs>? FriendRequestReceived;

    /// <summary>
    /// The session to the server went down or came back. Going down changes no peer; after coming back
    /// the implementation reconciles and raises <see cref="PeerChanged"/> for what really changed.
    /// </summary>
    event EventHandler<SignalingConnectionEventArgs>? ConnectionChanged;

    /// <summary>
    /// The host's network changed (an underlay address came or went, see <see cref="ITincan.LocalCandidatesChanged"/>):
    /// check the session to the server now instead of at the next keepalive, and while disconnected, retry now instead
    /// of at the end of the backoff. A session whose connection left from a vanished address is dead but would only
    /// be noticed by its keepalive; until it is replaced no new candidates reach the peers.
    /// </summary>
    /// <remarks>The default does nothing (an implementation without a connection to lose).</remarks>
    void VerifyConnectionNow()
    {
    }

    /// <summary>The longest announcement <see cref="SetAnnouncementAsync"/> accepts, in characters.</summary>
    public const int MaxAnnouncementLength = 512;

    /// <summary>
    /// Publishes <paramref name="announcement"/> with this node's presence, to every peer that sees the presence (friends,
    /// and members of the groups this node is in), now and after every reconnect, until replaced; <c>null</c> withdraws
    /// it. Peers see it as <see cref="OverlayPeer.Announcement"/>, and a change raises <see cref="PeerChanged"/>. It
    /// costs one presence broadcast, which the server fans out: the cheap way to tell a whole group something small
    /// (GroupVPN's structured topology announces each member's overlay addresses this way, so members without a link
    /// still know where everyone is).
    /// </summary>
    /// <remarks>
    /// An announcement is public to everyone who sees the presence: never put a secret in it. Receivers ignore (and
    /// count) one that is too long or holds other than printable ASCII. The default implementation throws
    /// <see cref="NotSupportedException"/>: a signaling implementation without announcements cannot serve a
    /// controller that needs them, and says so at its start.
    /// </remarks>
    /// <param name="announcement">At most <see cref="MaxAnnouncementLength"/> printable ASCII characters (32-126), or <c>null</c>.</param>
    /// <param name="cancellationToken">Cancels the wait for the presence to be sent; the announcement is kept either way.</param>
    /// <exception cref="ArgumentException">Too long, or a character outside printable ASCII.</exception>
    /// <exception cref="NotSupportedException">This implementation does not carry announcements.</exception>
    Task SetAnnouncementAsync(string? announcement, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} does not carry presence announcements (IOverlaySignaling.SetAnnouncementAsync).");

    /// <summary>Checks an announcement as <see cref="SetAnnouncementAsync"/> requires: <c>null</c> when valid, else what is wrong.</summary>
    /// <param name="announcement">The text to check (<c>null</c> is valid: no announcement).</param>
    public static string? CheckAnnouncement(string? announcement)
    {
        if (announcement is null)
        {
            return null;
        }

        if (announcement.Length > MaxAnnouncementLength)
        {
            return $"an announcement holds at most {MaxAnnouncementLength} characters, this one {announcement.Length}";
        }

        for (int i = 0; i < announcement.Length; i++)
        {
            if (announcement[i] is < ' ' or > '~')
            {
                return $"an announcement holds printable ASCII only (32-126); character {i} is U+{(int)announcement[i]:X4}";
            }
        }

        return null;
    }

    /// <summary>
    /// Connects, authenticates, announces presence; reconnects by itself afterwards until disposed.
    /// Failures that may pass (timeouts, network errors) are retried with backoff until the token is
    /// cancelled; only failures retrying cannot fix (bad credentials, bad configuration) are thrown.
    /// </summary>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Sends a small message to an online peer node.</summary>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    Task SendAsync(PeerId to, OverlayMessage message, CancellationToken cancellationToken);

    /// <summary>Joins a group (for XMPP, a multi-user chat room); members are then reported with <see cref="PeerRelationship.GroupMember"/>.</summary>
    Task JoinGroupAsync(string group, CancellationToken cancellationToken);

    /// <summary>Leaves a group.</summary>
    Task LeaveGroupAsync(string group, CancellationToken cancellationToken);

    /// <summary>Asks <paramref name="user"/> to become a friend (mutual subscription).</summary>
    Task RequestFriendshipAsync(string user, CancellationToken cancellationToken);

    /// <summary>Accepts or refuses a friend request.</summary>
    Task RespondToFriendRequestAsync(string user, bool accept, CancellationToken cancellationToken);

    /// <summary>Ends the friendship with <paramref name="user"/> (both directions).</summary>
    Task RemoveFriendAsync(string user, CancellationToken cancellationToken);
}
