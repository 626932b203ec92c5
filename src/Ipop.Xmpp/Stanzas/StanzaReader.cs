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

    /// <summary>
    /// The announcement in a marked presence (<see cref="StanzaBuilder.Marker"/>): <c>null</c> when the marker has none.
    /// Returns what is wrong, or <c>null</c> when it is valid: one <c>announcement</c> element of text only, as
    /// <see cref="IOverlaySignaling.CheckAnnouncement"/> requires (anyone who sees our presence can send one).
    /// </summary>
    public static string? ReadAnnouncement(XElement presence, out string? announcement)
    {
        announcement = null;
        XElement? marker = presence.Element(XName.Get("ipop", XmppNamespaces.Ipop));
        if (marker is null)
        {
            return null;
        }

        XName name = XName.Get(StanzaBuilder.AnnouncementElement, XmppNamespaces.Ipop);
        XElement? first = null;
        foreach (XElement element in marker.Elements(name))
        {
            if (first is not null)
            {
                return "more than one announcement";
            }

            first = element;
        }

        if (first is null)
        {
            return null;
        }

        if (first.HasElements)
        {
            return "an announcement holds text only, this one has child elements";
        }

        string text = first.Value;
        if (IOverlaySignaling.CheckAnnouncement(text) is { } problem)
        {
            return problem;
        }

        announcement = text;
        return null;
    }
}
