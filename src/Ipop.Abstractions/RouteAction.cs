namespace Ipop;

/// <summary>The kind of <see cref="RouteDecision"/>.</summary>
public enum RouteAction
{
    /// <summary>Drop the packet.</summary>
    Drop,

    /// <summary>Send to one link.</summary>
    Unicast,

    /// <summary>Send to every connected link.</summary>
    Flood,

    /// <summary>
    /// Drop, and tell the sender at once: the data plane writes an ICMP (IPv4) or ICMPv6 "destination
    /// unreachable" back to the interface, so applications fail fast instead of timing out.
    /// </summary>
    Unreachable,
}
