namespace Ipop.Tincan;

/// <summary>
/// A TURN server (RFC 8656) that relays when no direct path works. Either long-term credentials
/// (<see cref="Username"/> and <see cref="Password"/>) or coturn's REST-style <see cref="SharedSecret"/>.
/// </summary>
public sealed record TurnServerOptions
{
    /// <summary>Host name or IP address.</summary>
    public string Host { get; set; } = string.Empty;

    /// <summary>UDP port. Default 3478.</summary>
    public int Port { get; set; } = 3478;

    /// <summary>Long-term credential user name (or, with <see cref="SharedSecret"/>, the user part of the REST user name).</summary>
    public string? Username { get; set; }

    /// <summary>Long-term credential password.</summary>
    public string? Password { get; set; }

    /// <summary>coturn <c>static-auth-secret</c>: time-limited credentials are derived from it (TURN REST API).</summary>
    public string? SharedSecret { get; set; }

    /// <inheritdoc />
    public override string ToString() => $"{Host}:{Port}";
}
