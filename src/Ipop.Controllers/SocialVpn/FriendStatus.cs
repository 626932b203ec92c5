namespace Ipop.Controllers;

/// <summary>One friend device as the SocialVPN controller sees it.</summary>
/// <param name="Peer">The friend's node.</param>
/// <param name="User">The friend.</param>
/// <param name="Name">Its DNS name in our view (e.g. <c>bob.ipop</c>).</param>
/// <param name="Address">Its address in our view.</param>
/// <param name="Link">Its link status, or <c>null</c> before a link exists.</param>
/// <param name="Stats">Link counters, when linked.</param>
public sealed record FriendStatus(PeerId Peer, string User, string Name, InterfaceAddress Address, LinkStatus? Link, LinkStats? Stats);
