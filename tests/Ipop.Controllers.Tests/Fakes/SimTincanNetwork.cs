using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>
/// Link managers of many nodes that see each other, driven by <see cref="Step"/> on a fake clock: a link connects
/// once both ends authorize each other's key, fails when its peer's end is gone for a while (dead-peer detection),
/// and, in chaos, fails at random. Like the real Tincan, a failed link stays failed until it is removed: creating it
/// again with the same key keeps the link object and its state.
/// </summary>
internal sealed class SimTincanNetwork
{
    private readonly Dictionary<PeerId, SimTincan> _nodes = [];

    public static TimeSpan ConnectAfter { get; } = TimeSpan.FromSeconds(1);

    public static TimeSpan GiveUpAfter { get; } = TimeSpan.FromSeconds(20);

    public static TimeSpan DeadPeerAfter { get; } = TimeSpan.FromSeconds(5);

    public SimTincan Add(PeerId id, byte keySeed)
    {
        var node = new SimTincan(id, new NodePublicKey(Enumerable.Repeat(keySeed, 32).ToArray()), $"198.18.0.{keySeed}:5000");
        _nodes[id] = node;
        return node;
    }

    /// <summary>True if <paramref name="a"/> and <paramref name="b"/> both hold a connected link to each other with the right keys.</summary>
    public bool Linked(PeerId a, PeerId b) =>
        _nodes[a].Find(b) is { Status.State: LinkState.Connected } ab && ab.PeerKey == _nodes[b].LocalKey
        && _nodes[b].Find(a) is { Status.State: LinkState.Connected } ba && ba.PeerKey == _nodes[a].LocalKey;

    /// <summary>Advances every link by one step at <paramref name="now"/>.</summary>
    /// <param name="now">The fake clock's time.</param>
    /// <param name="chaos">When set, handshakes fail with probability <paramref name="handshakeFailure"/> and connected links die with <paramref name="linkDeath"/> per step.</param>
    public void Step(DateTimeOffset now, Random random, bool chaos, double handshakeFailure = 0.3, double linkDeath = 0.003)
    {
        foreach (SimTincan x in _nodes.Values)
        {
            foreach (SimLink l in x.AllLinks)
            {
                SimTincan? y = _nodes.GetValueOrDefault(l.Peer);
                SimLink? m = y?.Find(x.Id);
                bool paired = y is not null && m is not null && m.PeerKey == x.LocalKey && l.PeerKey == y.LocalKey && m.Status.State != LinkState.Failed;
                switch (l.Status.State)
                {
                    case LinkState.Connecting when paired && now - Max(l.CreatedAt, m!.CreatedAt) >= ConnectAfter:
                        if (chaos && random.NextDouble() < handshakeFailure)
                        {
                            x.Set(l, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.HandshakeTimedOut, "no handshake response after 6 attempts"));
                        }
                        else
                        {
                            x.Set(l, new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
                            if (m.Status.State == LinkState.Connecting)
                            {
                                y!.Set(m, new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
                            }
                        }

                        break;
                    case LinkState.Connecting when now - l.CreatedAt >= GiveUpAfter:
                        x.Set(l, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.HandshakeTimedOut, "no handshake response after 6 attempts"));
                        break;
                    case LinkState.Connected:
                        l.DeadSince = paired ? null : l.DeadSince ?? now;
                        if ((l.DeadSince is { } since && now - since >= DeadPeerAfter) || (chaos && random.NextDouble() < linkDeath))
                        {
                            x.Set(l, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
                        }

                        break;
                }
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}

/// <summary>One node's link manager in a <see cref="SimTincanNetwork"/>.</summary>
internal sealed class SimTincan(PeerId id, NodePublicKey key, string endpoint) : ITincan
{
    private readonly Dictionary<PeerId, SimLink> _links = [];
    private string _endpoint = endpoint;

    public PeerId Id { get; } = id;

    public NodePublicKey LocalKey { get; } = key;

    public TimeProvider Time { get; set; } = TimeProvider.System;

    public int Created { get; private set; }

    public IReadOnlyCollection<ITincanLink> Links => [.. _links.Values];

    internal IReadOnlyList<SimLink> AllLinks => [.. _links.Values];

    public IPacketRouter? Router { get; private set; }

    public event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    public event EventHandler? LocalCandidatesChanged;

    /// <summary>The candidate endpoint each peer's descriptor carried when its link was last created or updated.</summary>
    public Dictionary<PeerId, string> RemoteEndpoints { get; } = [];

    /// <summary>The node's underlay moved: a new candidate, announced like Tincan does.</summary>
    public void Move(string newEndpoint)
    {
        _endpoint = newEndpoint;
        LocalCandidatesChanged?.Invoke(this, EventArgs.Empty);
    }

    public event EventHandler<ControlMessageEventArgs>? ControlMessageReceived
    {
        add { }
        remove { }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken) => ValueTask.FromResult(new LinkDescriptor(
        LocalKey,
        [new Candidate(CandidateType.Host, IPEndPoint.Parse(_endpoint), Candidate.ComputePriority(CandidateType.Host, 65535), "h")],
        "ufrag" + LocalKey.ToString()[..4],
        "passwordpasswordpassword"));

    public ITincanLink CreateLink(PeerId peer, LinkDescriptor remote)
    {
        if (_links.Values.FirstOrDefault(l => l.PeerKey == remote.Key && l.Peer != peer) is { } other)
        {
            throw new InvalidOperationException($"Key {remote.Key} is already authorized for peer '{other.Peer}'; remove that link first.");
        }

        RemoteEndpoints[peer] = remote.Candidates[0].EndPoint.ToString();
        if (_links.TryGetValue(peer, out SimLink? existing) && existing.PeerKey == remote.Key)
        {
            return existing; // like Tincan: same key, same link object, state kept
        }

        Created++;
        var link = new SimLink(peer, remote.Key, Time.GetUtcNow());
        _links[peer] = link;
        return link;
    }

    public bool RemoveLink(PeerId peer)
    {
        if (_links.Remove(peer, out SimLink? link))
        {
            link.Status = new LinkStatus(LinkState.Closed, LinkPath.None, LinkFailureReason.Revoked);
            return true;
        }

        return false;
    }

    public bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link)
    {
        bool found = _links.TryGetValue(peer, out SimLink? l);
        link = l;
        return found;
    }

    internal SimLink? Find(PeerId peer) => _links.GetValueOrDefault(peer);

    internal void Set(SimLink link, LinkStatus status)
    {
        LinkStatus previous = link.Status;
        if (previous == status)
        {
            return;
        }

        link.Status = status;
        LinkStatusChanged?.Invoke(this, new LinkStatusChangedEventArgs(link, previous, status));
    }

    public void AttachInterface(IVirtualInterface nic, IPacketRouter router) => Router = router;

    public ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal sealed class SimLink(PeerId peer, NodePublicKey key, DateTimeOffset createdAt) : ITincanLink
{
    public PeerId Peer { get; } = peer;

    public NodePublicKey PeerKey { get; } = key;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public DateTimeOffset? DeadSince { get; set; }

    public LinkStatus Status { get; set; } = LinkStatus.Connecting;

    public LinkStats GetStats() => new();

    public bool TrySend(ReadOnlySpan<byte> packet) => true;

    public bool TrySendControl(ReadOnlySpan<byte> message) => true;
}
