using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Ipop.Testing;

/// <summary>
/// One node's link manager on a <see cref="FakeTincanNetwork"/>: the <see cref="ITincan"/> contract without sockets.
/// Links connect when both ends authorize each other; <see cref="SetStatus"/> fails or changes a link by hand;
/// <see cref="MoveTo"/> changes this node's candidate as a new network would.
/// </summary>
/// <remarks>
/// As with Tincan: <see cref="CreateLink"/> again with the same key keeps the link object and its state (a failed
/// link stays failed until removed); with a new key it replaces the link; a key that another peer's link holds is
/// refused. <see cref="RemoveLink"/> closes the link (<see cref="LinkFailureReason.Revoked"/>) without an event.
/// Thread-safe; events are raised outside the network's lock.
/// </remarks>
public sealed class FakeTincan : ITincan
{
    private readonly FakeTincanNetwork _network;
    private readonly Dictionary<PeerId, FakeTincanLink> _links = [];
    private string _endpoint;
    private int _created;
    private bool _disposed;

    internal FakeTincan(FakeTincanNetwork network, PeerId id, NodePublicKey key, string endpoint)
    {
        _network = network;
        Id = id;
        LocalKey = key;
        _endpoint = endpoint;
    }

    /// <summary>The node this link manager belongs to.</summary>
    public PeerId Id { get; }

    /// <inheritdoc />
    public NodePublicKey LocalKey { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<ITincanLink> Links
    {
        get
        {
            lock (_network.Gate)
            {
                return [.. _links.Values];
            }
        }
    }

    /// <summary>How many link objects <see cref="CreateLink"/> made (a call that kept the existing link does not count).</summary>
    public int LinksCreated => Volatile.Read(ref _created);

    /// <summary>True once <see cref="StartAsync"/> was called.</summary>
    public bool Started { get; private set; }

    /// <summary>The interface passed to <see cref="AttachInterface"/>, until detached.</summary>
    public IVirtualInterface? Interface { get; private set; }

    /// <summary>The router passed to <see cref="AttachInterface"/>, until detached.</summary>
    public IPacketRouter? Router { get; private set; }

    /// <summary>How often <see cref="CheckNetworkNow"/> was called.</summary>
    public int NetworkChecks { get; private set; }

    /// <inheritdoc />
    public event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    /// <inheritdoc />
    public event EventHandler<ControlMessageEventArgs>? ControlMessageReceived;

    /// <inheritdoc />
    public event EventHandler? LocalCandidatesChanged;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Started = true;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>One host candidate (198.18.x.y:5000, or the one given to <see cref="MoveTo"/>) and fixed check credentials.</remarks>
    public ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken)
    {
        string endpoint;
        lock (_network.Gate)
        {
            endpoint = _endpoint;
        }

        return ValueTask.FromResult(new LinkDescriptor(
            LocalKey,
            [new Candidate(CandidateType.Host, IPEndPoint.Parse(endpoint), Candidate.ComputePriority(CandidateType.Host, 65535), "h")],
            "fake" + LocalKey.ToString()[..4],
            "fake-password-fake-password"));
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">Another peer's link holds <paramref name="remote"/>'s key.</exception>
    public ITincanLink CreateLink(PeerId peer, LinkDescriptor remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var raise = new List<Action>();
        FakeTincanLink link;
        lock (_network.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_links.Values.FirstOrDefault(l => l.PeerKey == remote.Key && l.Peer != peer) is { } other)
            {
                throw new InvalidOperationException($"Key {remote.Key} is already authorized for peer '{other.Peer}'; remove that link first.");
            }

            if (_links.TryGetValue(peer, out FakeTincanLink? existing) && existing.PeerKey == remote.Key)
            {
                existing.Remote = remote;
                return existing; // like Tincan: same key, same link object, state kept
            }

            if (existing is not null)
            {
                existing.Status = new LinkStatus(LinkState.Closed, LinkPath.None, LinkFailureReason.Revoked, "replaced by a link with another key");
            }

            _created++;
            link = new FakeTincanLink(peer, remote.Key) { Remote = remote };
            _links[peer] = link;
            _network.TryPairLocked(this, link, raise);
        }

        _network.Run(raise);
        return link;
    }

    /// <inheritdoc />
    public bool RemoveLink(PeerId peer)
    {
        var raise = new List<Action>();
        lock (_network.Gate)
        {
            if (!_links.Remove(peer, out FakeTincanLink? link))
            {
                return false;
            }

            link.Status = new LinkStatus(LinkState.Closed, LinkPath.None, LinkFailureReason.Revoked);
            _network.PeerGoneLocked(this, peer, raise);
        }

        _network.Run(raise);
        return true;
    }

    /// <inheritdoc />
    public bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link)
    {
        lock (_network.Gate)
        {
            bool found = _links.TryGetValue(peer, out FakeTincanLink? l);
            link = l;
            return found;
        }
    }

    /// <summary>
    /// Sets the status of the link to <paramref name="peer"/> and raises <see cref="LinkStatusChanged"/> (if it
    /// changed): fail a link, bring one up, change its path.
    /// </summary>
    /// <param name="peer">The peer whose link changes.</param>
    /// <param name="status">The new status.</param>
    /// <exception cref="InvalidOperationException">There is no link to <paramref name="peer"/>.</exception>
    public void SetStatus(PeerId peer, LinkStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var raise = new List<Action>();
        lock (_network.Gate)
        {
            FakeTincanLink link = _links.GetValueOrDefault(peer) ?? throw new InvalidOperationException($"No link to '{peer}' on node '{Id}'.");
            SetLocked(link, status, raise);
        }

        _network.Run(raise);
    }

    /// <summary>This node's underlay moved: its descriptor now carries <paramref name="endpoint"/>, and <see cref="LocalCandidatesChanged"/> is raised.</summary>
    /// <param name="endpoint">The new host candidate, e.g. <c>198.18.5.1:5000</c>.</param>
    public void MoveTo(string endpoint)
    {
        _ = IPEndPoint.Parse(endpoint);
        lock (_network.Gate)
        {
            _endpoint = endpoint;
        }

        LocalCandidatesChanged?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>Raises <see cref="ControlMessageReceived"/> for the link to <paramref name="peer"/>, as if the peer's controller sent <paramref name="message"/>.</summary>
    /// <param name="peer">The sender.</param>
    /// <param name="message">The message.</param>
    /// <exception cref="InvalidOperationException">There is no link to <paramref name="peer"/>.</exception>
    public void ReceiveControl(PeerId peer, byte[] message)
    {
        ITincanLink link = TryGetLink(peer, out ITincanLink? l) ? l : throw new InvalidOperationException($"No link to '{peer}' on node '{Id}'.");
        ControlMessageReceived?.Invoke(this, new ControlMessageEventArgs(link, message));
    }

    /// <inheritdoc />
    public void CheckNetworkNow() => NetworkChecks++;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">An interface is attached already.</exception>
    public void AttachInterface(IVirtualInterface nic, IPacketRouter router)
    {
        ArgumentNullException.ThrowIfNull(nic);
        ArgumentNullException.ThrowIfNull(router);
        if (Interface is not null)
        {
            throw new InvalidOperationException("An interface is attached already; DetachInterfaceAsync first.");
        }

        Interface = nic;
        Router = router;
    }

    /// <inheritdoc />
    public ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken)
    {
        bool attached = Interface is not null;
        Interface = null;
        Router = null;
        return ValueTask.FromResult(attached);
    }

    /// <summary>Removes every link (the peers' ends fail) and detaches the interface. Idempotent.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        PeerId[] peers;
        lock (_network.Gate)
        {
            if (_disposed)
            {
                return ValueTask.CompletedTask;
            }

            _disposed = true;
            peers = [.. _links.Keys];
        }

        foreach (PeerId peer in peers)
        {
            RemoveLink(peer);
        }

        Interface = null;
        Router = null;
        return ValueTask.CompletedTask;
    }

    internal FakeTincanLink? FindLocked(PeerId peer) => _links.GetValueOrDefault(peer);

    internal void SetLocked(FakeTincanLink link, LinkStatus status, List<Action> raise)
    {
        LinkStatus previous = link.Status;
        if (previous == status)
        {
            return;
        }

        link.Status = status;
        raise.Add(() => LinkStatusChanged?.Invoke(this, new LinkStatusChangedEventArgs(link, previous, status)));
    }
}
