namespace Ipop.Xmpp;

/// <summary>
/// A user's long-lived standing in a group's room (XEP-0045 §5.2 affiliations). Membership of an Ipop group
/// is <see cref="Member"/> or higher; the room's owner grants and revokes it.
/// </summary>
public enum GroupAffiliation
{
    /// <summary>No affiliation: not in the group (a members-only room refuses the user).</summary>
    None = 0,

    /// <summary>Banned from the room.</summary>
    Outcast = 1,

    /// <summary>A member of the group.</summary>
    Member = 2,

    /// <summary>A member who may also grant and revoke membership.</summary>
    Admin = 3,

    /// <summary>The room's owner: a member who may also configure the room and name admins and owners.</summary>
    Owner = 4,
}
