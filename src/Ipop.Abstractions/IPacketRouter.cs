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

    /// <summary>
    /// Decides what happens to a packet that arrived on <paramref name="from"/>: delivered to the virtual interface,
    /// forwarded to another link (overlay forwarding: the destination is a member the sender has no direct link
    /// to), or dropped. Like <see cref="AcceptInbound"/>, it may rewrite in place without changing the length.
    /// </summary>
    /// <remarks>
    /// The default implementation keeps the contract of routers written before forwarding existed: it delivers what
    /// <see cref="AcceptInbound"/> accepts and drops the rest as spoofed. The data plane calls only this method;
    /// it refuses a forward back out of <paramref name="from"/> (a loop) and forwards only IP packets (TUN mode),
    /// whose TTL or hop limit it decrements.
    /// </remarks>
    InboundDecision RouteInbound(ITincanLink from, Span<byte> packet) =>
        AcceptInbound(from, packet) ? InboundDecision.Deliver : InboundDecision.Drop(InboundDropReason.Spoofed);
}
