namespace Ipop.Tincan.Turn;

/// <summary>A TURN server refused our credentials (401 after authenticating, or 441).</summary>
internal sealed class TurnAuthenticationException : Exception
{
    public TurnAuthenticationException()
    {
    }

    public TurnAuthenticationException(string message)
        : base(message)
    {
    }

    public TurnAuthenticationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TurnAuthenticationException(string message, string server, string? realm)
        : base(message)
    {
        Server = server;
        Realm = realm;
    }

    public string? Server { get; }

    public string? Realm { get; }
}

/// <summary>An allocation (or a request on it) failed for a reason other than credentials.</summary>
internal sealed class TurnAllocationException : Exception
{
    public TurnAllocationException()
    {
    }

    public TurnAllocationException(string message)
        : base(message)
    {
    }

    public TurnAllocationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TurnAllocationException(string message, int errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The server's ERROR-CODE, or 0 (timeout, unusable response).</summary>
    public int ErrorCode { get; }
}
