namespace Ipop;

/// <summary>How a peer's user relates to us. Flags: a user can be a friend and share a group.</summary>
[Flags]
public enum PeerRelationship
{
    /// <summary>No relationship: never link.</summary>
    None = 0,

    /// <summary>Mutual friendship (subscription in both directions).</summary>
    Friend = 1,

    /// <summary>Member of a group we are in.</summary>
    GroupMember = 2,
}
