namespace Ipop.Tap.Offload;

/// <summary>Why a frame read from an offloading device was dropped instead of handed out (one counter each).</summary>
internal enum OffloadDropReason
{
    /// <summary>Not dropped.</summary>
    None = 0,

    /// <summary>The read returned fewer bytes than the virtio_net_hdr.</summary>
    FrameShorterThanVnetHeader,

    /// <summary>A GSO type we neither negotiated nor know (e.g. legacy UFO, or UDP_L4 without USO).</summary>
    UnsupportedGsoType,

    /// <summary>A GSO super-packet with gso_size 0.</summary>
    GsoSizeZero,

    /// <summary>csum_start/csum_offset point outside the frame.</summary>
    ChecksumOffsetOutOfRange,

    /// <summary>A TAP frame whose EtherType is not IPv4/IPv6 although the header asks for segmentation.</summary>
    NotIp,

    /// <summary>The IP version does not match the GSO type (TCPV4 on IPv6, ...), or the IP header is short or invalid.</summary>
    IpHeaderInvalid,

    /// <summary>The IPv4 total length or IPv6 payload length disagrees with the frame length.</summary>
    IpLengthMismatch,

    /// <summary>An IPv4 fragment (MF or fragment offset set) marked for segmentation.</summary>
    Ipv4Fragment,

    /// <summary>An IPv6 super-packet with an extension header before TCP/UDP (not handled).</summary>
    Ipv6ExtensionHeader,

    /// <summary>The L4 protocol does not match the GSO type (e.g. not TCP with a TCP GSO type).</summary>
    ProtocolMismatch,

    /// <summary>The TCP data offset or UDP header is shorter than allowed or runs past the frame.</summary>
    L4HeaderInvalid,

    /// <summary>A (segmented) packet does not fit the caller's buffer.</summary>
    LargerThanBuffer,
}
