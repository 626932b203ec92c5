namespace Ipop.Xmpp;

/// <summary>What class of failure an <see cref="XmppSignalingException"/> reports.</summary>
public enum XmppErrorKind
{
    /// <summary>DNS or TCP failed (unknown host, refused, unreachable, timed out).</summary>
    Network,

    /// <summary>TLS was unavailable though required, or the server's certificate is not trusted.</summary>
    Tls,

    /// <summary>The server refused our credentials, or no acceptable SASL mechanism was offered.</summary>
    Authentication,

    /// <summary>The server broke the protocol (malformed XML, oversized stanza, unexpected element) or sent a stream error.</summary>
    Protocol,

    /// <summary>A request (IQ, room join) was answered with an error or not answered in time.</summary>
    Request,
}
