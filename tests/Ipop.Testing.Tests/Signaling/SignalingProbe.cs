using System.Collections.Concurrent;

namespace Ipop.Testing.Tests.Signaling;

/// <summary>Records what one node's signaling raised.</summary>
internal sealed class SignalingProbe
{
    public SignalingProbe(IOverlaySignaling signaling)
    {
        signaling.PeerChanged += (_, e) => PeerEvents.Enqueue(e);
        signaling.MessageReceived += (_, e) => Messages.Enqueue(e);
        signaling.FriendRequestReceived += (_, e) => FriendRequests.Enqueue(e.User);
        signaling.ConnectionChanged += (_, e) => ConnectionEvents.Enqueue(e);
    }

    public ConcurrentQueue<OverlayPeerEventArgs> PeerEvents { get; } = new();

    public ConcurrentQueue<OverlayMessageEventArgs> Messages { get; } = new();

    public ConcurrentQueue<string> FriendRequests { get; } = new();

    public ConcurrentQueue<SignalingConnectionEventArgs> ConnectionEvents { get; } = new();

    /// <summary>The peer (by full id) as last reported by events, or null.</summary>
    public OverlayPeer? LastSeen(PeerId id) => PeerEvents.Where(e => e.Current.Id == id).Select(e => e.Current).LastOrDefault();

    public bool SeesOnline(PeerId id, PeerRelationship relationship)
        => LastSeen(id) is { Presence: PeerPresence.Online } p && (p.Relationship & relationship) == relationship;
}
