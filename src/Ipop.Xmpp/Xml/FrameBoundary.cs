namespace Ipop.Xmpp.Xml;

/// <summary>What <see cref="StanzaFramer.Advance"/> stopped at.</summary>
internal enum FrameBoundary
{
    /// <summary>All input consumed inside whatever was open.</summary>
    None,

    /// <summary>A '&lt;' at stream level (or before the header): a stanza, the header, the XML declaration or the closing tag starts with this byte.</summary>
    MarkupStart,

    /// <summary>The XML declaration before the header ended.</summary>
    PrologEnd,

    /// <summary>The stream header's start tag ended.</summary>
    HeaderEnd,

    /// <summary>A stanza (top-level element) ended.</summary>
    StanzaEnd,

    /// <summary>The stream's closing tag ended.</summary>
    StreamEnd,

    /// <summary>The current stanza just nested deeper than allowed (reported once per stanza; framing goes on).</summary>
    TooDeep,

    /// <summary>Markup at stream level that no server may send: framing is lost (see <see cref="StanzaFramer.Error"/>).</summary>
    StreamBroken,
}
