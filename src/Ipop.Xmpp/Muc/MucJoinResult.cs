namespace Ipop.Xmpp.Muc;

/// <summary>How one join attempt ended: in the room (and whether our join created it), or refused with a stanza error condition.</summary>
internal sealed record MucJoinResult(bool Joined, bool Created, GroupAffiliation Affiliation, string? Condition, string? Detail)
{
    public static MucJoinResult In(bool created, GroupAffiliation affiliation) => new(true, created, affiliation, null, null);

    public static MucJoinResult Refused(string condition, string detail) => new(false, false, GroupAffiliation.None, condition, detail);
}
