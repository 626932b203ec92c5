using System.Collections.Immutable;
using System.Xml.Linq;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Roster;

/// <summary>One roster entry (RFC 6121 §2.1.2): subscription state, pending outbound request, groups.</summary>
internal sealed record RosterItem(string Jid, string Subscription, bool AskSubscribe, ImmutableArray<string> Groups)
{
    /// <summary>Friends are users with a subscription in both directions.</summary>
    public bool IsFriend => Subscription == "both";

    /// <summary>We asked for (or already have) a subscription to their presence.</summary>
    public bool WeAsked => AskSubscribe || Subscription is "to" or "both";

    /// <summary>Parses the items of a roster result or push; invalid items are skipped.</summary>
    public static List<RosterItem> ParseQuery(XElement? query)
    {
        var items = new List<RosterItem>();
        if (query is null)
        {
            return items;
        }

        XNamespace ns = XmppNamespaces.Roster;
        foreach (XElement item in query.Elements(ns + "item"))
        {
            if (!Xml.Jid.TryParse((string?)item.Attribute("jid"), out Jid jid) || !jid.IsBare)
            {
                continue;
            }

            string subscription = (string?)item.Attribute("subscription") ?? "none";
            if (subscription is not ("none" or "to" or "from" or "both" or "remove"))
            {
                subscription = "none";
            }

            items.Add(new RosterItem(
                jid.Bare,
                subscription,
                (string?)item.Attribute("ask") == "subscribe",
                [.. item.Elements(ns + "group").Select(g => g.Value).Where(g => g.Length > 0).Distinct(StringComparer.Ordinal)]));
        }

        return items;
    }
}
