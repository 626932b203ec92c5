using System.Collections.Concurrent;
using System.Diagnostics;

namespace Ipop.Xmpp.Tests;

/// <summary>Records every event of one <see cref="IOverlaySignaling"/> and waits (bounded) for conditions.</summary>
public sealed class SignalingProbe
{
    public SignalingProbe(IOverlaySignaling signaling)
    {
        Signaling = signaling;
        signaling.PeerChanged += (_, e) => PeerEvents.Enqueue(e);
        signaling.MessageReceived += (_, e) => Messages.Enqueue(e);
        signaling.FriendRequestReceived += (_, e) => FriendRequests.Enqueue(e.User);
        signaling.ConnectionChanged += (_, e) => ConnectionEvents.Enqueue(e);
    }

    public IOverlaySignaling Signaling { get; }

    public ConcurrentQueue<OverlayPeerEventArgs> PeerEvents { get; } = new();

    public ConcurrentQueue<OverlayMessageEventArgs> Messages { get; } = new();

    public ConcurrentQueue<string> FriendRequests { get; } = new();

    public ConcurrentQueue<SignalingConnectionEventArgs> ConnectionEvents { get; } = new();

    /// <summary>The peer (by full id) as last reported by events, or null.</summary>
    public OverlayPeer? LastSeen(PeerId id) => PeerEvents.Where(e => e.Current.Id == id).Select(e => e.Current).LastOrDefault();

    public OverlayPeer? Peer(PeerId id) => Signaling.Peers.FirstOrDefault(p => p.Id == id);

    public bool SeesOnline(PeerId id, PeerRelationship relationship)
        => LastSeen(id) is { Presence: PeerPresence.Online } p && (p.Relationship & relationship) == relationship;

    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
