namespace Ipop;

/// <summary>The kind of <see cref="InboundDecision"/>.</summary>
public enum InboundAction
{
    /// <summary>Drop the packet; <see cref="InboundDecision.Reason"/> says why.</summary>
    Drop,

    /// <summary>Write the packet to the virtual interface: it is for this node.</summary>
    Deliver,

    /// <summary>
    /// Send the packet on over <see cref="InboundDecision.Link"/> (overlay forwarding): it is for another member this
    /// node has a route to. The data plane decrements the IPv4 TTL or IPv6 hop limit first.
    /// </summary>
    Forward,
}
