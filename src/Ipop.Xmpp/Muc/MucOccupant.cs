namespace Ipop.Xmpp.Muc;

/// <summary>An Ipop node in a room: its real full JID and its user's affiliation as the room last announced it.</summary>
internal readonly record struct MucOccupant(string RealJid, GroupAffiliation Affiliation);
