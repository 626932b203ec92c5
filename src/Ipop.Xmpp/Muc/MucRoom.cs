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

    /// <summary>Occupant nickname → real full JID, only for occupants that carry the Ipop marker.</summary>
    public Dictionary<string, string> Occupants { get; } = new(StringComparer.Ordinal);

    public bool Joined { get; set; }

    /// <summary>Completed by our own presence echo (status 110), failed by an error presence.</summary>
    public TaskCompletionSource<bool>? Join { get; set; }

    public bool WarnedAnonymous { get; set; }
}
