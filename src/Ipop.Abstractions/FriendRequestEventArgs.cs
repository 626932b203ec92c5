namespace Ipop;

/// <summary>A user asked to become our friend.</summary>
public sealed class FriendRequestEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public FriendRequestEventArgs(string user) => User = user;

    /// <summary>The requesting user (bare identity).</summary>
    public string User { get; }
}
