namespace Ipop;

/// <summary>The session with the signaling server went down or came up.</summary>
public sealed class SignalingConnectionEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public SignalingConnectionEventArgs(bool isConnected, string? reason)
    {
        IsConnected = isConnected;
        Reason = reason;
    }

    /// <summary>True when the session is up.</summary>
    public bool IsConnected { get; }

    /// <summary>Why the session went down (e.g. "connection reset by server"), or <c>null</c>.</summary>
    public string? Reason { get; }
}
