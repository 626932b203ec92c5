namespace Ipop.Tincan.Stun;

/// <summary>A STUN/TURN server answered with an error response, or with something we could not use.</summary>
internal sealed class StunProtocolException : Exception
{
    public StunProtocolException()
    {
    }

    public StunProtocolException(string message)
        : base(message)
    {
    }

    public StunProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StunProtocolException(string message, int errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The ERROR-CODE of the response, or 0 when the failure was not an error response.</summary>
    public int ErrorCode { get; }
}
