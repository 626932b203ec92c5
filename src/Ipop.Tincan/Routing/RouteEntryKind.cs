namespace Ipop.Tincan;

/// <summary>What a <see cref="RouteTable"/> entry means for a packet to or from an address in its prefix.</summary>
internal enum RouteEntryKind
{
    /// <summary>The link's peer owns the prefix.</summary>
    Direct,

    /// <summary>A member reached through the link's peer (the next hop).</summary>
    Forwarding,

    /// <summary>Covered, but no link: answered with ICMP unreachable.</summary>
    Unreachable,

    /// <summary>This node's own address.</summary>
    Local,
}
