namespace Ipop.Xmpp;

/// <summary>An XMPP session or request failed; <see cref="Kind"/> says why and the message names the cause.</summary>
public sealed class XmppSignalingException : Exception
{
    /// <summary>Creates the exception.</summary>
    public XmppSignalingException(XmppErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>Creates the exception (for serializers and analyzers; prefer the constructor with a kind).</summary>
    public XmppSignalingException()
        : this(XmppErrorKind.Protocol, "XMPP failure.")
    {
    }

    /// <summary>Creates the exception (prefer the constructor with a kind).</summary>
    public XmppSignalingException(string message)
        : this(XmppErrorKind.Protocol, message)
    {
    }

    /// <summary>Creates the exception (prefer the constructor with a kind).</summary>
    public XmppSignalingException(string message, Exception innerException)
        : this(XmppErrorKind.Protocol, message, innerException)
    {
    }

    /// <summary>The class of failure.</summary>
    public XmppErrorKind Kind { get; }
}
