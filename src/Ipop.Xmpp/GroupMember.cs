namespace Ipop.Xmpp;

/// <summary>One entry of a group's member list (a room affiliation of <see cref="GroupAffiliation.Member"/> or higher).</summary>
/// <param name="User">The member's bare JID (user@domain).</param>
/// <param name="Affiliation">Member, admin or owner.</param>
public sealed record GroupMember(string User, GroupAffiliation Affiliation);
