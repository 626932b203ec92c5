namespace Ipop.Xmpp.Xml;

/// <summary>Bounds applied to every inbound stanza so a hostile or broken server cannot exhaust memory.</summary>
/// <param name="MaxStanzaBytes">Largest stanza (in bytes on the wire) accepted before the stream is torn down.</param>
/// <param name="MaxDepth">Deepest element nesting accepted inside one stanza.</param>
internal sealed record XmppXmlLimits(int MaxStanzaBytes, int MaxDepth)
{
    public static XmppXmlLimits Default { get; } = new(256 * 1024, 32);
}
