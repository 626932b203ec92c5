namespace Ipop.Xmpp.Xml;

/// <summary>Bounds applied to every inbound stanza so that no sender can exhaust our memory; a stanza over them is skipped, not buffered.</summary>
/// <param name="MaxStanzaBytes">Largest stanza (in bytes on the wire) accepted; the stream header is bounded by it too.</param>
/// <param name="MaxDepth">Deepest element nesting accepted below a stanza's root element.</param>
internal sealed record XmppXmlLimits(int MaxStanzaBytes, int MaxDepth)
{
    public static XmppXmlLimits Default { get; } = new(256 * 1024, 32);
}
