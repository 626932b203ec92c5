namespace Ipop.Xmpp.Sasl;

/// <summary>A SASL exchange failed on the client side (malformed challenge, wrong server signature).</summary>
internal sealed class SaslException : Exception
{
    public SaslException(string message)
        : base(message)
    {
    }
}
