namespace Ipop.Xmpp.Xml;

/// <summary>The inbound XML stream violated a limit or was not well-formed; the stream must be closed (RFC 6120 §4.9.3).</summary>
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
