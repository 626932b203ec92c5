namespace Ipop.Xmpp.Muc;

/// <summary>A room we want to be in (XEP-0045) and what we know about its occupants.</summary>
internal sealed class MucRoom
{
    public MucRoom(string jid, string nickname)
    {
        Jid = jid;
        Nickname = nickname;
    }

    /// <summary>The room's bare JID, which is also the group name we report.</summary>
    public string Jid { get; }

    public string Nickname { get; }

    public string OccupantJid => $"{Jid}/{Nickname}";

    /// <summary>Occupant nickname → real full JID and affiliation, only for occupants that carry the Ipop marker.</summary>
    public Dictionary<string, MucOccupant> Occupants { get; } = new(StringComparer.Ordinal);

    public bool Joined { get; set; }

    /// <summary>The session our last successful join was on: being in the room counts only on that session.</summary>
    public object? JoinedOn { get; set; }

    /// <summary>Our own affiliation as the room last announced it in our self-presence.</summary>
    public GroupAffiliation Affiliation { get; set; }

    /// <summary>Completed by our own presence echo (status 110) or by an error presence.</summary>
    public TaskCompletionSource<MucJoinResult>? Join { get; set; }

    /// <summary>Completed with the reason when the room removes us (kick, ban, membership revoked, room destroyed).</summary>
    public TaskCompletionSource<string>? Left { get; set; }

    /// <summary>Completed (and replaced) after each join attempt of the keeper loop, so <see cref="XmppSignaling.JoinGroupAsync"/> can report the outcome.</summary>
    public TaskCompletionSource<MucJoinResult> Attempted { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The session whose keeper loop looks after this room (one loop per room and session).</summary>
    public object? KeptOn { get; set; }

    /// <summary>Cancelled when we leave the group, which ends the keeper loop.</summary>
    public CancellationTokenSource Removed { get; } = new();

    public bool WarnedAnonymous { get; set; }

    /// <summary>The version of our announcement that our last presence to the room carried (its join or an update).</summary>
    public long AnnouncedVersion { get; set; } = -1;

    /// <summary>True if a real JID is in the room with member affiliation or higher.</summary>
    public bool HasMember(string realJid)
    {
        foreach (MucOccupant occupant in Occupants.Values)
        {
            if (occupant.RealJid == realJid && MucAffiliations.IsMember(occupant.Affiliation))
            {
                return true;
            }
        }

        return false;
    }
}
