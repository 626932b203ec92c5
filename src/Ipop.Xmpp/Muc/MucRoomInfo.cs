using System.Xml.Linq;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Muc;

/// <summary>What a room's disco#info says about it (XEP-0045 §6.4, features from §15.2).</summary>
internal sealed record MucRoomInfo(bool MembersOnly, bool Persistent, bool NonAnonymous)
{
    /// <summary>A room is fit for Ipop when only members may enter, it survives its last occupant, and members see real JIDs.</summary>
    public bool FitForIpop => MembersOnly && Persistent && NonAnonymous;

    public static MucRoomInfo Parse(XElement? query)
    {
        HashSet<string> features = query?.Elements(XName.Get("feature", XmppNamespaces.DiscoInfo))
            .Select(f => (string?)f.Attribute("var") ?? string.Empty)
            .ToHashSet(StringComparer.Ordinal) ?? [];
        return new MucRoomInfo(features.Contains("muc_membersonly"), features.Contains("muc_persistent"), features.Contains("muc_nonanonymous"));
    }

    public override string ToString()
        => $"{(MembersOnly ? "members-only" : "open")}, {(Persistent ? "persistent" : "temporary")}, {(NonAnonymous ? "non-anonymous" : "semi-anonymous")}";
}
