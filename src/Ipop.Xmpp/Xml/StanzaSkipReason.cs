namespace Ipop.Xmpp.Xml;

/// <summary>Why a stanza was skipped.</summary>
internal enum StanzaSkipReason
{
    /// <summary>Larger than <see cref="XmppXmlLimits.MaxStanzaBytes"/>.</summary>
    TooLarge,

    /// <summary>Nested deeper than <see cref="XmppXmlLimits.MaxDepth"/>.</summary>
    TooDeep,

    /// <summary>Not well-formed or namespace-well-formed XML, or restricted XML (DTD, undefined entity).</summary>
    Malformed,

    /// <summary>
    /// A presence whose announcement breaks the rules (too long, not printable ASCII, more than one): only the
    /// announcement is ignored; the presence itself is handled.
    /// </summary>
    InvalidAnnouncement,
}
