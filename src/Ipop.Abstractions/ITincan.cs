using System.Diagnostics.CodeAnalysis;

namespace Ipop;

/// <summary>
/// The link manager: owns the node's UDP socket, its STUN/TURN clients, its static key and the
/// link table, and moves packets between a virtual interface and the links under a controller's
/// <see cref="IPacketRouter"/>. A controller decides which links exist; Tincan builds and runs them.
/// </summary>
/// <remarks>
/// Authorization is explicit: a handshake succeeds only for a key passed to
/// <see cref="CreateLink"/> for that peer; handshakes from any other key are dropped and counted.
/// Both sides call <see cref="CreateLink"/> with the other's descriptor (exchanged over signaling);
/// roles are derived from the keys, so there is no glare.
/// <para>
/// Lifetime: <see cref="StartAsync"/>, then <see cref="AttachInterface"/>; <see cref="CreateLink"/> may come before
/// the start. Disposing is idempotent and safe in any order with the interface (which the caller owns and Tincan never
/// disposes): before or after it, before <see cref="StartAsync"/>, twice or concurrently; every call returns once the
/// node has let go of everything. Afterwards the operations that start work throw <see cref="ObjectDisposedException"/>
/// naming <c>ITincan</c>; <see cref="RemoveLink"/>, <see cref="TryGetLink"/> and <see cref="DetachInterfaceAsync"/>
/// still answer. Ipop.Tincan's implementation is also <see cref="IDisposable"/>, so a dependency injection container
/// disposed synchronously disposes it too.
/// </para>
/// </remarks>
public interface ITincan : IAsyncDisposable
{
    /// <summary>This node's static public key.</summary>
    NodePublicKey LocalKey { get; }

    /// <summary>All links, in any state.</summary>
    IReadOnlyCollection<ITincanLink> Links { get; }

    /// <summary>Raised when a link's status changes, one change at a time and in order; do not block.</summary>
    /// <remarks>
    /// <para>
    /// Status changes are made by the node's serialized control loop, which has no thread of its own: it runs on the
    /// thread that gave it work. That is a Tincan thread (its timer, its receive thread) for changes the network
    /// causes, and the caller's thread for the changes a call makes: <see cref="RemoveLink"/> raises the link's change to
    /// <see cref="LinkState.Closed"/> (<see cref="LinkFailureReason.Revoked"/>) before it returns, and disposal the changes
    /// to Closed (<see cref="LinkFailureReason.Shutdown"/>), on the calling thread (or on the Tincan thread that is running
    /// the loop at that moment, which the call waits for).
    /// </para>
    /// <para>
    /// Nothing is held while a handler runs, so a handler may call any <see cref="ITincan"/> method; a call from a
    /// handler is queued and runs, with its own events, right after the handler returns. A handler must not block:
    /// it holds up the control work of every link. Do not call <see cref="RemoveLink"/> while holding a non-reentrant
    /// lock (such as a <see cref="SemaphoreSlim"/>) that the handler also takes: the handler may run inside that call.
    /// </para>
    /// </remarks>
    event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    /// <summary>Raised (on a Tincan thread: the receive thread; do not block) when a peer controller's message arrives over a link.</summary>
    event EventHandler<ControlMessageEventArgs>? ControlMessageReceived;

    /// <summary>
    /// Raised (on a Tincan thread; do not block) when this node's candidates may have changed: its underlay addresses
    /// changed (a new network, a new lease, wake from sleep) or its TURN allocation was replaced. A controller sends
    /// <see cref="GetLocalDescriptorAsync"/>'s new descriptor to its peers, which pass it to <see cref="CreateLink"/>;
    /// a link that still works keeps its session meanwhile. Implementations that never move may leave it unraised.
    /// </summary>
    event EventHandler? LocalCandidatesChanged
    {
        add { }
        remove { }
    }

    /// <summary>
    /// The network may have moved without a local address changing (signaling's connection was reset: a NAT's public
    /// address or mapping may have changed). Links announce themselves over their paths at once (so a peer follows the
    /// new public address), candidates are gathered again, and <see cref="LocalCandidatesChanged"/> is raised if the
    /// server-reflexive or relayed ones changed. The default does nothing (an implementation that never moves).
    /// </summary>
    void CheckNetworkNow()
    {
    }

    /// <summary>Starts the socket and gathers candidates from every configured STUN and TURN server.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// This node's descriptor (key, candidates, check credentials) to send to a peer over signaling.
    /// Gathers candidates if needed; servers that fail are skipped and logged.
    /// </summary>
    ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Authorizes <paramref name="remote"/>'s key for <paramref name="peer"/> and starts connecting:
    /// connectivity checks on candidate pairs, then the handshake. Returns at once in
    /// <see cref="LinkState.Connecting"/>. Calling it again for the same peer with a new descriptor
    /// restarts the checks (e.g. after the peer restarted).
    /// </summary>
    ITincanLink CreateLink(PeerId peer, LinkDescriptor remote);

    /// <summary>Closes the link to <paramref name="peer"/> and revokes its key at once.</summary>
    /// <remarks>
    /// <see cref="LinkStatusChanged"/> (Closed, <see cref="LinkFailureReason.Revoked"/>) is raised before this returns,
    /// normally on the calling thread; called from a handler of that event, right after the handler returns.
    /// </remarks>
    /// <returns><c>false</c> if there was no such link.</returns>
    bool RemoveLink(PeerId peer);

    /// <summary>Finds the link to a peer.</summary>
    bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link);

    /// <summary>
    /// Starts moving packets between <paramref name="nic"/> and the links: packets read from the NIC go
    /// where <paramref name="router"/> says; packets from links are offered to the router, then written
    /// to the NIC. One interface at a time: <see cref="DetachInterfaceAsync"/> before attaching another.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// <see cref="StartAsync"/> has not been called yet, an interface is attached already, or the interface's MTU is
    /// larger than the links carry (Ipop.Tincan: <c>TincanOptions.Mtu</c>; both default to <see cref="VirtualInterfaceOptions.DefaultMtu"/>).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The node was disposed.</exception>
    void AttachInterface(IVirtualInterface nic, IPacketRouter router);

    /// <summary>
    /// Stops moving packets between the attached interface and the links, so that the interface can be
    /// disposed and (optionally) another one attached with <see cref="AttachInterface"/>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Links are not touched: they stay up, keep their sessions and keep sending keepalives. Packets that
    /// arrive from links while no interface is attached are dropped and counted (Ipop.Tincan: metric
    /// <c>ipop.tincan.drops</c>, reason <c>NoInterface</c>); they are not queued for a later interface.
    /// </para>
    /// <para>
    /// The interface is detached as soon as the call starts: from then on, packets from links are no longer
    /// offered to the router or written to the NIC, and the NIC is not read again (a packet read from it just
    /// before may still be routed and sent). The returned task completes once Tincan has stopped using the NIC and the
    /// router altogether: its read loop has returned from <see cref="IVirtualInterface.Read"/> (which observes
    /// cancellation within a few hundred milliseconds) and no write to the NIC or router call that started
    /// before the detach is still running. After it completes, Tincan never touches the NIC or the router
    /// again, so the caller may dispose them. Tincan never disposes the NIC: the caller owns it.
    /// </para>
    /// <para>
    /// If <paramref name="cancellationToken"/> is cancelled first, the interface stays detached but Tincan
    /// may still be returning from a read or finishing a write; a later call waits for that too.
    /// </para>
    /// </remarks>
    /// <returns><c>false</c> if no interface was attached (also after <see cref="IAsyncDisposable.DisposeAsync"/>, which detaches).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before Tincan stopped using the NIC.</exception>
    ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken);
}
