namespace Ipop;

/// <summary>The life cycle of a Tincan link.</summary>
public enum LinkState
{
    /// <summary>Gathering candidates, running connectivity checks or the handshake.</summary>
    Connecting,

    /// <summary>Authenticated and carrying traffic; <see cref="LinkStatus.Path"/> says whether direct or relayed.</summary>
    Connected,

    /// <summary>Could not be established or was lost; <see cref="LinkStatus.Reason"/> says why. The link may be retried.</summary>
    Failed,

    /// <summary>Closed on request; it will not be used again.</summary>
    Closed,
}
