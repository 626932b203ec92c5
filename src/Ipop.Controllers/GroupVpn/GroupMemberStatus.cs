namespace Ipop.Controllers;

/// <summary>One group member as the GroupVPN controller sees it (for status views).</summary>
/// <param name="Peer">The member's node.</param>
/// <param name="User">The member's user.</param>
/// <param name="Addresses">Virtual addresses it claimed.</param>
/// <param name="Link">Its link status, or <c>null</c> when no link exists yet.</param>
/// <param name="Stats">Link counters, when linked.</param>
public sealed record GroupMemberStatus(PeerId Peer, string User, IReadOnlyList<InterfaceAddress> Addresses, LinkStatus? Link, LinkStats? Stats)
{
    /// <summary>
    /// In a structured group, the member through which this node reaches this one (its packets are forwarded hop by
    /// hop from there), or <c>null</c> when it is reached directly or not at all.
    /// </summary>
    public PeerId? Via { get; init; }

    /// <summary>
    /// With <see cref="Via"/>: the overlay hops to the member, counted along the group's plan from this node (the first
    /// hop is the real next hop; the rest assume every member holds its planned links).
    /// </summary>
    public int? Hops { get; init; }
}
