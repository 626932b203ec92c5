namespace Ipop.Tap.Offload;

/// <summary>
/// How <see cref="SuperPacketSplitter"/> cuts one frame read from the device: its headers, its payload, and the size
/// of each piece. A frame that needs no cutting is one segment covering the whole frame.
/// </summary>
internal readonly record struct SegmentationPlan
{
    /// <summary>Where the IP header starts (0 for TUN, 14 for TAP).</summary>
    public int L3Offset { get; init; }

    /// <summary>0 for a frame passed through whole; otherwise the IP version's GSO type (TCPV4, TCPV6 or UDP_L4).</summary>
    public byte GsoType { get; init; }

    public bool IsV6 { get; init; }

    public int IpHeaderLength { get; init; }

    public int L4HeaderLength { get; init; }

    /// <summary>L2 + IP + L4 headers: the bytes every segment starts with.</summary>
    public int HeaderLength => L3Offset + IpHeaderLength + L4HeaderLength;

    public int PayloadLength { get; init; }

    /// <summary>Payload bytes per segment (gso_size); the last may be shorter.</summary>
    public int SegmentSize { get; init; }

    public int SegmentCount { get; init; }

    /// <summary>The length of the whole frame (pass-through) or of the largest segment.</summary>
    public int LargestSegment => GsoType == VirtioNetHeader.GsoNone ? PayloadLength : HeaderLength + Math.Min(SegmentSize, PayloadLength);
}
