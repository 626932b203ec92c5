namespace Ipop.Xmpp.Xml;

/// <summary>The inbound XML stream itself is broken (framing lost at stream level, a bad header); the stream must be closed (RFC 6120 §4.9.3). Bad stanzas are skipped instead.</summary>
internal sealed class XmppXmlException : Exception
{
    public XmppXmlException(string condition, string message, Exception? inner = null)
        : base(message, inner)
    {
        Condition = condition;
    }

    /// <summary>The stream error condition to report (e.g. <c>policy-violation</c>, <c>not-well-formed</c>).</summary>
    public string Condition { get; }
}
