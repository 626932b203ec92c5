namespace Ipop.Xmpp.Muc;

/// <summary>The wire names of XEP-0045 affiliations (§5.2) and what counts as group membership.</summary>
internal static class MucAffiliations
{
    public static GroupAffiliation Parse(string? text) => text switch
    {
        "owner" => GroupAffiliation.Owner,
        "admin" => GroupAffiliation.Admin,
        "member" => GroupAffiliation.Member,
        "outcast" => GroupAffiliation.Outcast,
        _ => GroupAffiliation.None,
    };

    public static string Name(GroupAffiliation affiliation) => affiliation switch
    {
        GroupAffiliation.Owner => "owner",
        GroupAffiliation.Admin => "admin",
        GroupAffiliation.Member => "member",
        GroupAffiliation.Outcast => "outcast",
        _ => "none",
    };

    /// <summary>Member, admin and owner are in the group; none and outcast are not.</summary>
    public static bool IsMember(GroupAffiliation affiliation) => affiliation >= GroupAffiliation.Member;
}
