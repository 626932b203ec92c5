namespace Ipop;

/// <summary>
/// One authenticated, encrypted peer-to-peer tunnel to one peer node. Links are created and removed
/// through <see cref="ITincan"/>; this interface observes a link and sends on it.
/// </summary>
public interface ITincanLink
{
    /// <summary>The peer's overlay identity.</summary>
    PeerId Peer { get; }

    /// <summary>The peer's static public key; only this key can complete the handshake.</summary>
    NodePublicKey PeerKey { get; }

    /// <summary>
    /// Current state, path and failure reason. Changes are announced by <see cref="ITincan.LinkStatusChanged"/>, which
    /// says on which thread; this property already shows a change when its event is raised.
    /// </summary>
    LinkStatus Status { get; }

    /// <summary>A snapshot of counters and the candidate pair in use.</summary>
    LinkStats GetStats();

    /// <summary>Seals and sends one IP packet or Ethernet frame. Never blocks, never allocates.</summary>
    /// <returns><c>false</c> when the link is not connected or the packet is larger than the link MTU (counted as a drop).</returns>
    bool TrySend(ReadOnlySpan<byte> packet);

    /// <summary>
    /// Sends a small controller-to-controller message over the link itself (IPOP's ICC), so controllers
    /// keep coordinating when the signaling server is unreachable. Delivered through
    /// <see cref="ITincan.ControlMessageReceived"/> on the peer.
    /// </summary>
    /// <returns><c>false</c> when the link is not connected or the message is too large.</returns>
    bool TrySendControl(ReadOnlySpan<byte> message);
}
