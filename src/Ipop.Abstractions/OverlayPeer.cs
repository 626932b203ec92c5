using System.Collections.Immutable;

namespace Ipop;

/// <summary>A peer node as signaling sees it.</summary>
/// <param name="Id">The node's full identity.</param>
/// <param name="User">The user it belongs to (bare identity).</param>
/// <param name="Presence">Online or offline.</param>
/// <param name="Relationship">How the user relates to us.</param>
/// <param name="Groups">Groups in which we see this node.</param>
public sealed record OverlayPeer(PeerId Id, string User, PeerPresence Presence, PeerRelationship Relationship, ImmutableArray<string> Groups)
{
    /// <summary>
    /// The short text the peer publishes with its presence (<see cref="IOverlaySignaling.SetAnnouncementAsync"/>), as
    /// last received, or <c>null</c> if it publishes none (or signaling does not carry announcements). GroupVPN's
    /// structured topology publishes the member's overlay addresses here, so members learn each other's addresses
    /// without a link.
    /// </summary>
    public string? Announcement { get; init; }
}
