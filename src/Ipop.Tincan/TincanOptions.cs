namespace Ipop.Tincan;

/// <summary>Settings of a Tincan node (configuration section <c>Tincan</c>). Validated at start.</summary>
public sealed class TincanOptions
{
    /// <summary>The configuration section name, also the prefix of validation messages.</summary>
    public const string SectionName = "Tincan";

    /// <summary>
    /// Local address of the UDP socket. <c>0.0.0.0</c> or <c>::</c> (the default) listen on every address, IPv4 and
    /// IPv6 (one dual-mode socket).
    /// </summary>
    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>Local UDP port; 0 picks a free one.</summary>
    public int ListenPort { get; set; }

    /// <summary>
    /// Path of the node's private key file (created with mode 0600 when missing, see <see cref="NodeKeyFile"/>; its
    /// directory must exist, it is not created: a missing one stops the start with a <see cref="NodeKeyFileException"/> naming it).
    /// When <c>null</c> the node uses a fresh key for its lifetime (tests, throwaway nodes).
    /// </summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>
    /// Path of the node's small state file: the last accepted handshake timestamp of each peer key, so that a handshake
    /// initiation captured before a restart cannot be replayed after it. Written atomically (mode 0600) when a
    /// handshake is accepted, read at start; a malformed file stops the start with an error naming it. When
    /// <c>null</c> (the default) it is <see cref="PrivateKeyPath"/> with <c>.state</c> appended, or, without a key
    /// file, nothing: the history is kept in memory only (a fresh key has none to protect).
    /// </summary>
    public string? StatePath { get; set; }

    /// <summary>
    /// The links' MTU, 576..9000: the largest IP packet a link carries (an Ethernet frame from a TAP interface may be
    /// 18 bytes larger: header and one VLAN tag). An attached interface's MTU must not exceed it. Default
    /// <see cref="VirtualInterfaceOptions.DefaultMtu"/> (1400), the same as the interface's default; it is chosen so
    /// that a link's largest datagram fits a 1500-byte IPv6 or IPv4 underlay.
    /// </summary>
    public int Mtu { get; set; } = VirtualInterfaceOptions.DefaultMtu;

    /// <summary>A session's initiator starts a new handshake when the session is this old. Default 120 s.</summary>
    public TimeSpan RekeyAfterTime { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>A session's initiator starts a new handshake after sending this many packets. Default 2^60.</summary>
    public long RekeyAfterMessages { get; set; } = 1L << 60;

    /// <summary>An idle link sends a keepalive after this long without sending. Default 10 s.</summary>
    public TimeSpan KeepaliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for a handshake response before retrying; doubles each retry (capped at 8x). Default 3 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Handshake attempts before the link fails with <see cref="LinkFailureReason.HandshakeTimedOut"/>. Default 6.</summary>
    public int HandshakeAttempts { get; set; } = 6;

    /// <summary>Send and receive buffer size of the UDP socket (forced past the sysctl limits when running as root). Default 4 MiB.</summary>
    public int SocketBufferBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Send runs of equal-sized datagrams to one peer as one UDP_SEGMENT message (Linux generic segmentation
    /// offload), so the kernel or the NIC cuts them up. Probed at start; turned off by itself when the egress device
    /// cannot checksum. Needs <see cref="UdpBatchSize"/> above 1. Default <c>true</c>.
    /// </summary>
    public bool UdpSegmentationOffload { get; set; } = true;

    /// <summary>
    /// Let the kernel coalesce received datagrams of one flow (Linux UDP_GRO); the node splits them again. Probed at
    /// start. Needs <see cref="UdpBatchSize"/> above 1. Default <c>true</c>.
    /// </summary>
    public bool UdpReceiveOffload { get; set; } = true;

    /// <summary>
    /// Messages per recvmmsg/sendmmsg system call, 1..1024; 1 means plain recvfrom/sendto, one datagram per call
    /// (and no offloads). Default 64.
    /// </summary>
    public int UdpBatchSize { get; set; } = 64;

    /// <summary>STUN servers for server-reflexive candidates (used by NAT traversal).</summary>
    public IList<StunServerOptions> StunServers { get; } = [];

    /// <summary>TURN servers for relayed candidates (used by NAT traversal).</summary>
    public IList<TurnServerOptions> TurnServers { get; } = [];

    /// <summary>
    /// Discover each link's path MTU with padded probes inside the tunnel (RFC 8899 DPLPMTUD; no reliance on ICMP),
    /// clamp the MSS of TCP connections through the link to it, and answer larger IP packets with "fragmentation
    /// needed" / "packet too big". Off: every link assumes the whole <see cref="Mtu"/> crosses its path. Default <c>true</c>.
    /// </summary>
    public bool PathMtuDiscovery { get; set; } = true;

    /// <summary>How long a round of path MTU probes waits for its acknowledgments (RFC 8899 PROBE_TIMER). Default 1 s.</summary>
    public TimeSpan PathMtuProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Rounds of path MTU probes lost in a row before a size is given up (RFC 8899 MAX_PROBES), 1..10. Default 3.</summary>
    public int PathMtuMaxProbes { get; set; } = 3;

    /// <summary>After a search, how long until a link tries a larger path MTU again (RFC 8899 PMTU_RAISE_TIMER). Default 600 s.</summary>
    public TimeSpan PathMtuRaiseInterval { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>While full-size packets flow, how often a link confirms its path MTU still holds (black hole detection). Default 5 s.</summary>
    public TimeSpan PathMtuConfirmInterval { get; set; } = TimeSpan.FromSeconds(5);
}
