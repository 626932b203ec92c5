namespace Ipop;

/// <summary>Why a router refused a packet that arrived on a link (<see cref="InboundDecision.Drop"/>).</summary>
public enum InboundDropReason
{
    /// <summary>The destination is none of this node's addresses and no route covers it: dropped silently (a router's choice; <c>RouteTable</c> delivers such packets and lets the kernel decide).</summary>
    NoRoute,

    /// <summary>
    /// The source is not one the link may deliver: in TUN mode an address the peer (or, with forwarding routes, any
    /// member) does not own, in TAP mode a MAC address the peer does not own. Counted as spoofed on the link.
    /// </summary>
    Spoofed,

    /// <summary>
    /// The destination lies in a prefix marked unreachable (a member that is offline or has no link): dropped, and the
    /// sender is answered with ICMP destination unreachable over the link the packet came on.
    /// </summary>
    Unreachable,
}
