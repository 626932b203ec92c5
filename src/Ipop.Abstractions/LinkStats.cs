namespace Ipop;

/// <summary>A snapshot of one link's counters and path.</summary>
public sealed record LinkStats
{
    /// <summary>Payload bytes sent (before encryption overhead).</summary>
    public long BytesSent { get; init; }

    /// <summary>Payload bytes received and authenticated.</summary>
    public long BytesReceived { get; init; }

    /// <summary>Data packets sent.</summary>
    public long PacketsSent { get; init; }

    /// <summary>Data packets received and authenticated.</summary>
    public long PacketsReceived { get; init; }

    /// <summary>Datagrams and packets for this link dropped, for any reason (the three counters below and the rest: oversize, no session).</summary>
    public long PacketsDropped { get; init; }

    /// <summary>
    /// Packets that authenticated as this peer's but that the router refused: in TUN mode a source address outside the
    /// peer's allowed addresses, in TAP mode a source MAC the peer does not own. A member trying to impersonate another.
    /// </summary>
    public long DroppedSpoofed { get; init; }

    /// <summary>Transport packets and handshake initiations seen before (a replay on the wire, or a duplicate).</summary>
    public long DroppedReplayed { get; init; }

    /// <summary>Datagrams that named this link's session but failed authentication (tampered, or forged).</summary>
    public long DroppedUnauthenticated { get; init; }

    /// <summary>
    /// Packets that arrived on another link and that this node forwarded over this one (overlay forwarding: this link
    /// is the next hop toward their destination). Included in <see cref="PacketsSent"/>.
    /// </summary>
    public long PacketsForwarded { get; init; }

    /// <summary>Payload bytes of <see cref="PacketsForwarded"/>. Included in <see cref="BytesSent"/>.</summary>
    public long BytesForwarded { get; init; }

    /// <summary>Completed handshakes (the first plus every rekey).</summary>
    public long Handshakes { get; init; }

    /// <summary>Smoothed round-trip time, when measured.</summary>
    public TimeSpan? RoundTripTime { get; init; }

    /// <summary>The local candidate of the pair in use.</summary>
    public Candidate? LocalCandidate { get; init; }

    /// <summary>The remote candidate of the pair in use.</summary>
    public Candidate? RemoteCandidate { get; init; }

    /// <summary>When the last authenticated packet arrived.</summary>
    public DateTimeOffset? LastReceived { get; init; }
}
