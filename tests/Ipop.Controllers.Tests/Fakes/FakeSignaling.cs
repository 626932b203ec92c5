using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>A signaling stand-in the test drives by hand: it sets peers, raises events and records what was sent.</summary>
internal sealed class FakeSignaling(string localId, string localUser) : IOverlaySignaling
{
    private readonly ConcurrentDictionary<PeerId, OverlayPeer> _peers = new();

    public PeerId LocalId { get; } = new(localId);

    public string LocalUser { get; } = localUser;

    public bool IsConnected { get; private set; }

    public IReadOnlyCollection<OverlayPeer> Peers => [.. _peers.Values];

    public ConcurrentQueue<(PeerId To, OverlayMessage Message)> Sent { get; } = new();

    public List<string> JoinedGroups { get; } = [];

    public event EventHandler<OverlayPeerEventArgs>? PeerChanged;

    public event EventHandler<OverlayMessageEventArgs>? MessageReceived;

    public event EventHandler<FriendRequestEventArgs>? FriendRequestReceived;

    public event EventHandler<SignalingConnectionEventArgs>? ConnectionChanged;

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        IsConnected = true;
        ConnectionChanged?.Invoke(this, new SignalingConnectionEventArgs(true, null));
        return Task.CompletedTask;
    }

    public Task SendAsync(PeerId to, OverlayMessage message, CancellationToken cancellationToken)
    {
        Sent.Enqueue((to, message));
        return Task.CompletedTask;
    }

    public Task JoinGroupAsync(string group, CancellationToken cancellationToken)
    {
        JoinedGroups.Add(group);
        return Task.CompletedTask;
    }

    public Task LeaveGroupAsync(string group, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RequestFriendshipAsync(string user, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RespondToFriendRequestAsync(string user, bool accept, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RemoveFriendAsync(string user, CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>The session drops (or comes back): raises <see cref="ConnectionChanged"/>; peers are left as they are.</summary>
    public void SetConnected(bool connected)
    {
        IsConnected = connected;
        ConnectionChanged?.Invoke(this, new SignalingConnectionEventArgs(connected, connected ? null : "simulated loss"));
    }

    public void SetPeer(string id, PeerPresence presence, PeerRelationship relationship, params string[] groups) =>
        SetPeer(id, sessionEnded: false, presence, relationship, groups);

    /// <summary>As <see cref="SetPeer(string, PeerPresence, PeerRelationship, string[])"/>, saying whether the change is only the end of the peer's session.</summary>
    public void SetPeer(string id, bool sessionEnded, PeerPresence presence, PeerRelationship relationship, params string[] groups)
    {
        var peerId = new PeerId(id);
        var peer = new OverlayPeer(peerId, id.Split('/')[0], presence, relationship, [.. groups]);
        _peers.TryGetValue(peerId, out OverlayPeer? previous);
        _peers[peerId] = peer;
        PeerChanged?.Invoke(this, new OverlayPeerEventArgs(previous, peer) { SessionEnded = sessionEnded });
    }

    public void Deliver(string from, string kind, string body) =>
        MessageReceived?.Invoke(this, new OverlayMessageEventArgs(new PeerId(from), new OverlayMessage(kind, body)));

    public void RaiseFriendRequest(string user) => FriendRequestReceived?.Invoke(this, new FriendRequestEventArgs(user));
}
