namespace Ipop.Xmpp.Xml;

/// <summary>XML namespaces of the protocols we speak.</summary>
internal static class XmppNamespaces
{
    public const string Streams = "http://etherx.jabber.org/streams";
    public const string Client = "jabber:client";
    public const string Tls = "urn:ietf:params:xml:ns:xmpp-tls";
    public const string Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    public const string Bind = "urn:ietf:params:xml:ns:xmpp-bind";
    public const string Session = "urn:ietf:params:xml:ns:xmpp-session";
    public const string StreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
    public const string Stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
    public const string Roster = "jabber:iq:roster";
    public const string Ping = "urn:xmpp:ping";
    public const string Muc = "http://jabber.org/protocol/muc";
    public const string MucUser = "http://jabber.org/protocol/muc#user";
    public const string MucOwner = "http://jabber.org/protocol/muc#owner";
    public const string MucAdmin = "http://jabber.org/protocol/muc#admin";
    public const string DataForms = "jabber:x:data";
    public const string Hints = "urn:xmpp:hints";
    public const string DiscoInfo = "http://jabber.org/protocol/disco#info";

    /// <summary>Our own payload and capability marker namespace.</summary>
    public const string Ipop = "urn:ipop:signaling:1";
}
