namespace Ipop.Tincan.DataPlane.Link;

/// <summary>A link's traffic and drop counters, incremented lock-free by any thread.</summary>
internal sealed class LinkCounters
{
    private long _bytesSent;
    private long _bytesReceived;
    private long _packetsSent;
    private long _packetsReceived;
    private long _packetsDropped;
    private long _droppedSpoofed;
    private long _droppedReplayed;
    private long _droppedUnauthenticated;
    private long _handshakes;
    private long _packetsForwarded;
    private long _bytesForwarded;

    /// <summary>Packets from this peer that the router refused for their source.</summary>
    public long DroppedSpoofed => Volatile.Read(ref _droppedSpoofed);

    /// <summary>Sessions established.</summary>
    public long Handshakes => Volatile.Read(ref _handshakes);

    public void OnPacketSent(int payloadLength)
    {
        Interlocked.Increment(ref _packetsSent);
        Interlocked.Add(ref _bytesSent, payloadLength);
    }

    public void OnPacketReceived(int payloadLength)
    {
        Interlocked.Increment(ref _packetsReceived);
        Interlocked.Add(ref _bytesReceived, payloadLength);
    }

    /// <summary>A packet from another link sent on over this one (also counted as sent by the send path).</summary>
    public void OnForwarded(int payloadLength)
    {
        // Bytes first: whoever sees a packet counted also sees its bytes (both are full fences).
        Interlocked.Add(ref _bytesForwarded, payloadLength);
        Interlocked.Increment(ref _packetsForwarded);
    }

    public void OnHandshake() => Interlocked.Increment(ref _handshakes);

    /// <summary>A packet the path could not send.</summary>
    public void OnSendFailed() => Interlocked.Increment(ref _packetsDropped);

    /// <summary>Counts a dropped packet, and by kind the drops that stats report separately.</summary>
    public void OnDropped(DropReason reason)
    {
        Interlocked.Increment(ref _packetsDropped);
        switch (reason)
        {
            case DropReason.SpoofedSource or DropReason.SpoofedMac:
                Interlocked.Increment(ref _droppedSpoofed);
                break;
            case DropReason.Replay or DropReason.HandshakeReplay:
                Interlocked.Increment(ref _droppedReplayed);
                break;
            case DropReason.AuthenticationFailed:
                Interlocked.Increment(ref _droppedUnauthenticated);
                break;
            default:
                break;
        }
    }

    /// <summary>Copies the counters into <paramref name="stats"/>.</summary>
    public LinkStats CopyTo(LinkStats stats) => stats with
    {
        BytesSent = Volatile.Read(ref _bytesSent),
        BytesReceived = Volatile.Read(ref _bytesReceived),
        PacketsSent = Volatile.Read(ref _packetsSent),
        PacketsReceived = Volatile.Read(ref _packetsReceived),
        PacketsDropped = Volatile.Read(ref _packetsDropped),
        DroppedSpoofed = Volatile.Read(ref _droppedSpoofed),
        DroppedReplayed = Volatile.Read(ref _droppedReplayed),
        DroppedUnauthenticated = Volatile.Read(ref _droppedUnauthenticated),
        Handshakes = Volatile.Read(ref _handshakes),
        PacketsForwarded = Volatile.Read(ref _packetsForwarded),
        BytesForwarded = Volatile.Read(ref _bytesForwarded),
    };
}
