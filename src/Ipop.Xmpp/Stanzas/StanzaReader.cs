using System.Xml.Linq;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Stanzas;

/// <summary>Small accessors for inbound stanzas.</summary>
internal static class StanzaReader
{
    public static string? Attr(XElement element, string name) => (string?)element.Attribute(name);

    public static string Type(XElement stanza, string fallback) => (string?)stanza.Attribute("type") ?? fallback;

    /// <summary>The defined condition of a stanza error (RFC 6120 §8.3.3), e.g. <c>item-not-found</c>.</summary>
    public static string ErrorCondition(XElement stanza)
    {
        XElement? error = stanza.Elements().FirstOrDefault(e => e.Name.LocalName == "error");
        XElement? condition = error?.Elements().FirstOrDefault(e => e.Name.NamespaceName == XmppNamespaces.Stanzas && e.Name.LocalName != "text");
        string? text = error?.Element(XName.Get("text", XmppNamespaces.Stanzas))?.Value;
        return (condition?.Name.LocalName ?? "undefined-condition") + (string.IsNullOrEmpty(text) ? string.Empty : $" ({text})");
    }

    /// <summary>Only the name of the defined condition of a stanza error, e.g. <c>registration-required</c>.</summary>
    public static string ErrorConditionName(XElement stanza)
    {
        XElement? error = stanza.Elements().FirstOrDefault(e => e.Name.LocalName == "error");
        return error?.Elements().FirstOrDefault(e => e.Name.NamespaceName == XmppNamespaces.Stanzas && e.Name.LocalName != "text")?.Name.LocalName ?? "undefined-condition";
    }

    public static bool HasMarker(XElement presence) => presence.Element(XName.Get("ipop", XmppNamespaces.Ipop)) is not null;
}
