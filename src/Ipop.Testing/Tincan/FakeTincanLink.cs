namespace Ipop.Testing;

/// <summary>A link of a <see cref="FakeTincan"/>: it records what is sent on it instead of sending.</summary>
public sealed class FakeTincanLink : ITincanLink
{
    private long _sentPackets;
    private long _sentControl;

    internal FakeTincanLink(PeerId peer, NodePublicKey key)
    {
        Peer = peer;
        PeerKey = key;
    }

    /// <inheritdoc />
    public PeerId Peer { get; }

    /// <inheritdoc />
    public NodePublicKey PeerKey { get; }

    /// <inheritdoc />
    public LinkStatus Status { get => Volatile.Read(ref field); internal set => Volatile.Write(ref field, value); } = LinkStatus.Connecting;

    /// <summary>The descriptor the link was (last) created with.</summary>
    public LinkDescriptor? Remote { get; internal set; }

    /// <summary>Packets accepted by <see cref="TrySend"/>.</summary>
    public long SentPackets => Interlocked.Read(ref _sentPackets);

    /// <summary>Messages accepted by <see cref="TrySendControl"/>.</summary>
    public long SentControlMessages => Interlocked.Read(ref _sentControl);

    /// <inheritdoc />
    /// <remarks>Only <see cref="LinkStats.PacketsSent"/> is counted (<see cref="SentPackets"/>), so a controller that
    /// reads a link's traffic (an on-demand link's idleness) sees what was sent on it.</remarks>
    public LinkStats GetStats() => new() { PacketsSent = SentPackets };

    /// <inheritdoc />
    /// <remarks>Counts the packet when the link is Connected; nothing is delivered.</remarks>
    public bool TrySend(ReadOnlySpan<byte> packet) => Count(ref _sentPackets);

    /// <inheritdoc />
    /// <remarks>Counts the message when the link is Connected; nothing is delivered.</remarks>
    public bool TrySendControl(ReadOnlySpan<byte> message) => Count(ref _sentControl);

    private bool Count(ref long counter)
    {
        if (Status.State != LinkState.Connected)
        {
            return false;
        }

        Interlocked.Increment(ref counter);
        return true;
    }
}
