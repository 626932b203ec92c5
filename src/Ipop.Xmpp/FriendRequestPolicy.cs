namespace Ipop.Xmpp;

/// <summary>How an <see cref="XmppSignaling"/> node answers subscription requests (RFC 6121 §3.1) from other users.</summary>
public enum FriendRequestPolicy
{
    /// <summary>Refuse every request that we did not initiate ourselves.</summary>
    AcceptNone,

    /// <summary>Accept requests from the users in <see cref="XmppSignalingOptions.AcceptedFriends"/>; refuse the rest.</summary>
    AcceptListed,

    /// <summary>Raise <see cref="IOverlaySignaling.FriendRequestReceived"/> and wait for <see cref="IOverlaySignaling.RespondToFriendRequestAsync"/>.</summary>
    Ask,
}
