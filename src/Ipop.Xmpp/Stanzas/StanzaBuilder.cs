using System.Xml.Linq;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Stanzas;

/// <summary>
/// The stanzas and nonzas we send, one builder each. Top-level stanzas carry no namespace of their own
/// so they inherit the stream's default <c>jabber:client</c> (RFC 6120 §4.8.3); extensions carry theirs.
/// </summary>
internal static class StanzaBuilder
{
    private static readonly XNamespace IpopNs = XmppNamespaces.Ipop;
    private static readonly XNamespace RosterNs = XmppNamespaces.Roster;
    private static readonly XNamespace DataNs = XmppNamespaces.DataForms;

    /// <summary>Protocol version carried in our capability marker.</summary>
    public const string MarkerVersion = "1";

    public static string StreamHeader(string domain)
        => $"<?xml version='1.0'?><stream:stream to='{Escape(domain)}' version='1.0' xml:lang='en' xmlns='{XmppNamespaces.Client}' xmlns:stream='{XmppNamespaces.Streams}'>";

    public static string Serialize(XElement element) => element.ToString(SaveOptions.DisableFormatting | SaveOptions.OmitDuplicateNamespaces);

    public static string SaslAuth(string mechanism, string initialResponse)
        => $"<auth xmlns='{XmppNamespaces.Sasl}' mechanism='{Escape(mechanism)}'>{initialResponse}</auth>";

    public static string SaslResponse(string response) => $"<response xmlns='{XmppNamespaces.Sasl}'>{response}</response>";

    public static XElement Bind(string id, string resource)
        => Iq("set", id, null, new XElement(XName.Get("bind", XmppNamespaces.Bind), new XElement(XName.Get("resource", XmppNamespaces.Bind), resource)));

    public static XElement Session(string id) => Iq("set", id, null, new XElement(XName.Get("session", XmppNamespaces.Session)));

    public static XElement Iq(string type, string id, string? to, XElement? payload)
    {
        var iq = new XElement("iq", new XAttribute("type", type), new XAttribute("id", id));
        if (to is not null)
        {
            iq.SetAttributeValue("to", to);
        }

        if (payload is not null)
        {
            iq.Add(payload);
        }

        return iq;
    }

    public static XElement IqResult(string id, string? to) => Iq("result", id, to, null);

    /// <summary>An error reply to a request we do not handle (RFC 6120 §8.3.3).</summary>
    public static XElement IqError(string id, string? to, string errorType, string condition)
        => Iq("error", id, to, new XElement("error", new XAttribute("type", errorType), new XElement(XName.Get(condition, XmppNamespaces.Stanzas))));

    /// <summary>Roster get (RFC 6121 §2.1.3).</summary>
    public static XElement RosterGet(string id) => Iq("get", id, null, new XElement(RosterNs + "query"));

    /// <summary>Roster set (§2.1.5) or, with <paramref name="remove"/>, roster remove (§2.1.6), which also cancels both subscriptions.</summary>
    public static XElement RosterSet(string id, string jid, bool remove, IEnumerable<string>? groups = null)
    {
        var item = new XElement(RosterNs + "item", new XAttribute("jid", jid));
        if (remove)
        {
            item.SetAttributeValue("subscription", "remove");
        }
        else
        {
            foreach (string group in groups ?? [])
            {
                item.Add(new XElement(RosterNs + "group", group));
            }
        }

        return Iq("set", id, null, new XElement(RosterNs + "query", item));
    }

    /// <summary>The child of the marker that carries the node's announcement (<see cref="IOverlaySignaling.SetAnnouncementAsync"/>).</summary>
    public const string AnnouncementElement = "announcement";

    /// <summary>
    /// Our capability marker: other Ipop nodes only count sessions that carry it. An announcement travels inside it as
    /// <c>&lt;announcement&gt;text&lt;/announcement&gt;</c>: a child, not an attribute or a new version, so nodes that
    /// predate announcements still see the marker they know and ignore the child.
    /// </summary>
    public static XElement Marker(string? announcement = null)
    {
        var marker = new XElement(IpopNs + "ipop", new XAttribute("ver", MarkerVersion));
        if (announcement is not null)
        {
            marker.Add(new XElement(IpopNs + AnnouncementElement, announcement));
        }

        return marker;
    }

    /// <summary>
    /// Initial presence (RFC 6121 §4.2) with the marker. The default negative priority keeps messages
    /// sent to our bare JID away from this session (§8.5.2.1.1): IM clients of the same user keep their
    /// chats (see <see cref="XmppSignalingOptions.PresencePriority"/>).
    /// </summary>
    /// <remarks>Also the presence update that publishes a changed announcement: RFC 6121 §4.4 has it sent the same way.</remarks>
    public static XElement InitialPresence(int priority = -1, string? announcement = null)
        => new("presence", new XElement("priority", priority.ToString(System.Globalization.CultureInfo.InvariantCulture)), Marker(announcement));

    /// <summary>subscribe / subscribed / unsubscribe / unsubscribed (RFC 6121 §3).</summary>
    public static XElement Subscription(string to, string type) => new("presence", new XAttribute("to", to), new XAttribute("type", type));

    /// <summary>
    /// An Ipop payload to one node: type <c>normal</c> to a full JID, with a no-store hint (XEP-0334) so
    /// a stale link offer is never kept offline and replayed later.
    /// </summary>
    public static XElement IpopMessage(string id, string to, OverlayMessage message)
        => new("message",
            new XAttribute("type", "normal"),
            new XAttribute("to", to),
            new XAttribute("id", id),
            new XElement(IpopNs + "ipop", new XAttribute("kind", message.Kind), message.Body),
            new XElement(XName.Get("no-store", XmppNamespaces.Hints)));

    /// <summary>
    /// Room join (XEP-0045 §7.2) without history, with our marker so members recognise Ipop nodes. A management
    /// session (creating a room for its owner) joins without the marker, so no member tries to link to it.
    /// </summary>
    public static XElement MucJoin(string occupantJid, bool marker = true, string? announcement = null)
    {
        var presence = new XElement("presence",
            new XAttribute("to", occupantJid),
            new XElement(XName.Get("x", XmppNamespaces.Muc), new XElement(XName.Get("history", XmppNamespaces.Muc), new XAttribute("maxstanzas", "0"))));
        if (marker)
        {
            presence.Add(Marker(announcement));
        }

        return presence;
    }

    /// <summary>
    /// A presence update to a room we are in (XEP-0045 §7.7, changing availability status): the room re-broadcasts it to
    /// every occupant, which is how members that are not our friends learn a changed announcement.
    /// </summary>
    public static XElement MucPresence(string occupantJid, string? announcement)
        => new("presence", new XAttribute("to", occupantJid), Marker(announcement));

    /// <summary>Service discovery of a room (XEP-0045 §6.4): does it exist, and is it members-only, persistent, non-anonymous.</summary>
    public static XElement DiscoInfo(string id, string to) => Iq("get", id, to, new XElement(XName.Get("query", XmppNamespaces.DiscoInfo)));

    /// <summary>The list of users with one affiliation (XEP-0045 §9.5 members, §10.5 owners, §10.8 admins).</summary>
    public static XElement MucAffiliationList(string id, string room, string affiliation)
        => Iq("get", id, room, new XElement(XName.Get("query", XmppNamespaces.MucAdmin),
            new XElement(XName.Get("item", XmppNamespaces.MucAdmin), new XAttribute("affiliation", affiliation))));

    /// <summary>Room exit (XEP-0045 §7.14).</summary>
    public static XElement MucLeave(string occupantJid) => new("presence", new XAttribute("to", occupantJid), new XAttribute("type", "unavailable"));

    /// <summary>
    /// Room configuration form (XEP-0045 §10.2) that makes real JIDs visible to every occupant
    /// (whois=anyone), which Ipop needs to address members' sessions directly.
    /// </summary>
    public static XElement MucConfigure(string id, string room, bool membersOnly, bool persistent)
    {
        static XElement Field(string var, string value) => new(DataNs + "field", new XAttribute("var", var), new XElement(DataNs + "value", value));
        return Iq("set", id, room, new XElement(XName.Get("query", XmppNamespaces.MucOwner),
            new XElement(DataNs + "x", new XAttribute("type", "submit"),
                Field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
                Field("muc#roomconfig_whois", "anyone"),
                Field("muc#roomconfig_membersonly", membersOnly ? "1" : "0"),
                Field("muc#roomconfig_persistentroom", persistent ? "1" : "0"))));
    }

    /// <summary>Grant or revoke membership (XEP-0045 §9.3/§9.4); in a members-only room, revoking also removes the user (status 321).</summary>
    public static XElement MucAffiliation(string id, string room, string userJid, string affiliation)
        => Iq("set", id, room, new XElement(XName.Get("query", XmppNamespaces.MucAdmin),
            new XElement(XName.Get("item", XmppNamespaces.MucAdmin), new XAttribute("jid", userJid), new XAttribute("affiliation", affiliation))));

    /// <summary>XEP-0199 ping.</summary>
    public static XElement Ping(string id, string to) => Iq("get", id, to, new XElement(XName.Get("ping", XmppNamespaces.Ping)));

    private static string Escape(string text) => System.Security.SecurityElement.Escape(text) ?? string.Empty;
}
