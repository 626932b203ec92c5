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
/// </remarks>
public interface ITincan : IAsyncDisposable
{
    /// <summary>This node's static public key.</summary>
    NodePublicKey LocalKey { get; }

    /// <summary>All links, in any state.</summary>
    IReadOnlyCollection<ITincanLink> Links { get; }

    /// <summary>Raised (on a Tincan thread; do not block) when a link's status changes.</summary>
    event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    /// <summary>Raised (on a Tincan thread; do not block) when a peer controller's message arrives over a link.</summary>
    event EventHandler<ControlMessageEventArgs>? ControlMessageReceived;

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
    /// <returns><c>false</c> if there was no such link.</returns>
    bool RemoveLink(PeerId peer);

    /// <summary>Finds the link to a peer.</summary>
    bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link);

    /// <summary>
    /// Starts moving packets between <paramref name="nic"/> and the links: packets read from the NIC go
    /// where <paramref name="router"/> says; packets from links are offered to the router, then written
    /// to the NIC. One interface per Tincan.
    /// </summary>
    void AttachInterface(IVirtualInterface nic, IPacketRouter router);
}
