namespace Ipop.Controllers;

/// <summary>One group member as the GroupVPN controller sees it (for status views).</summary>
/// <param name="Peer">The member's node.</param>
/// <param name="User">The member's user.</param>
/// <param name="Addresses">Virtual addresses it claimed.</param>
/// <param name="Link">Its link status, or <c>null</c> when no link exists yet.</param>
/// <param name="Stats">Link counters, when linked.</param>
public sealed record GroupMemberStatus(PeerId Peer, string User, IReadOnlyList<InterfaceAddress> Addresses, LinkStatus? Link, LinkStats? Stats);
