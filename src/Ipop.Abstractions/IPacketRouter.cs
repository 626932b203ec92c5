namespace Ipop;

/// <summary>
/// A controller's data-plane policy, called by Tincan for every packet. Implementations must be fast,
/// allocation-free and thread-safe (lock-free reads of an immutable table swapped on change).
/// </summary>
public interface IPacketRouter
{
    /// <summary>
    /// Chooses where a packet read from the virtual interface goes. It may rewrite the packet in place
    /// without changing its length (address translation).
    /// </summary>
    RouteDecision RouteOutbound(Span<byte> packet);

    /// <summary>
    /// Called for each packet that arrived on <paramref name="from"/> before it is written to the
    /// virtual interface. It may rewrite in place (translation), learn (MAC learning) or refuse it.
    /// </summary>
    /// <returns><c>true</c> to deliver the packet to the interface.</returns>
    bool AcceptInbound(ITincanLink from, Span<byte> packet);
}
