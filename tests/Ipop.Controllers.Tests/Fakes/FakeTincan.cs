using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>A link manager stand-in: records which links a controller asks for and lets the test change their state.</summary>
internal sealed class FakeTincan : ITincan
{
    private readonly ConcurrentDictionary<PeerId, FakeLink> _links = new();

    public FakeTincan(byte keySeed = 1) => LocalKey = new NodePublicKey(Enumerable.Repeat(keySeed, 32).ToArray());

    public NodePublicKey LocalKey { get; }

    public IReadOnlyCollection<ITincanLink> Links => [.. _links.Values];

    public ConcurrentQueue<PeerId> Removed { get; } = new();

    public IVirtualInterface? Interface { get; private set; }

    public IPacketRouter? Router { get; private set; }

    public event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    public event EventHandler<ControlMessageEventArgs>? ControlMessageReceived;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(Descriptor(LocalKey, "198.18.0.1:5000"));

    public static LinkDescriptor Descriptor(NodePublicKey key, string endpoint) => new(
        key,
        [new Candidate(CandidateType.Host, IPEndPoint.Parse(endpoint), Candidate.ComputePriority(CandidateType.Host, 65535), "h")],
        "ufrag",
        "passwordpasswordpassword");

    public ITincanLink CreateLink(PeerId peer, LinkDescriptor remote)
    {
        var link = new FakeLink(peer, remote.Key);
        _links[peer] = link;
        return link;
    }

    public bool RemoveLink(PeerId peer)
    {
        Removed.Enqueue(peer);
        return _links.TryRemove(peer, out _);
    }

    public bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link)
    {
        bool found = _links.TryGetValue(peer, out FakeLink? l);
        link = l;
        return found;
    }

    public void AttachInterface(IVirtualInterface nic, IPacketRouter router)
    {
        Interface = nic;
        Router = router;
    }

    public ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken)
    {
        bool attached = Interface is not null;
        Interface = null;
        Router = null;
        return ValueTask.FromResult(attached);
    }

    /// <summary>How often the controller asked for <see cref="CheckNetworkNow"/> (after a signaling reset).</summary>
    public int NetworkChecks { get; private set; }

    public void CheckNetworkNow() => NetworkChecks++;

    public void SetStatus(PeerId peer, LinkStatus status)
    {
        FakeLink link = _links[peer];
        LinkStatus previous = link.Status;
        link.Status = status;
        LinkStatusChanged?.Invoke(this, new LinkStatusChangedEventArgs(link, previous, status));
    }

    public void RaiseControl(PeerId peer, byte[] message) => ControlMessageReceived?.Invoke(this, new ControlMessageEventArgs(_links[peer], message));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal sealed class FakeLink(PeerId peer, NodePublicKey key) : ITincanLink
{
    public PeerId Peer { get; } = peer;

    public NodePublicKey PeerKey { get; } = key;

    public LinkStatus Status { get; set; } = LinkStatus.Connecting;

    public ConcurrentQueue<byte[]> SentPackets { get; } = new();

    public LinkStats GetStats() => new();

    public bool TrySend(ReadOnlySpan<byte> packet)
    {
        SentPackets.Enqueue(packet.ToArray());
        return true;
    }

    public bool TrySendControl(ReadOnlySpan<byte> message) => true;
}
