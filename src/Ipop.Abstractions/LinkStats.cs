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

    /// <summary>Datagrams for this link dropped (replayed, failed authentication, oversize, no session).</summary>
    public long PacketsDropped { get; init; }

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
