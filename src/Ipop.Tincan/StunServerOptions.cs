namespace Ipop.Tincan;

/// <summary>A STUN server (RFC 8489) that tells the node its server-reflexive address.</summary>
public sealed record StunServerOptions
{
    /// <summary>Host name or IP address.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>UDP port. Default 3478.</summary>
    public int Port { get; set; } = 3478;
}
