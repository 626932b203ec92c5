namespace Ipop.Tincan.DataPlane;

/// <summary>Why a datagram or packet was dropped (counted per node, exported as the <c>reason</c> tag).</summary>
internal enum DropReason
{
    /// <summary>A handshake from a static key no link authorizes.</summary>
    UnknownKey,

    /// <summary>A transport counter seen before or too old for the window.</summary>
    Replay,

    /// <summary>A handshake initiation whose timestamp is not newer than the last accepted one.</summary>
    HandshakeReplay,

    /// <summary>A handshake message whose mac1 is wrong: the sender does not know our public key (checked before any DH).</summary>
    MacMismatch,

    /// <summary>AEAD or handshake authentication failed (tampered, wrong key).</summary>
    AuthenticationFailed,

    /// <summary>Wrong length, reserved bits set, unknown content kind.</summary>
    Malformed,

    /// <summary>Larger than the MTU allows.</summary>
    Oversize,

    /// <summary>A receiver index that names no session or pending handshake.</summary>
    UnknownIndex,

    /// <summary>The first byte names no protocol.</summary>
    UnknownType,

    /// <summary>A packet to send but the link has no usable session yet.</summary>
    NoSession,

    /// <summary>The router chose no link.</summary>
    NoRoute,

    /// <summary>The router refused a packet from a link in TUN mode: its source address is not one the peer owns.</summary>
    SpoofedSource,

    /// <summary>The switch refused a frame from a link in TAP mode: its source MAC is not one the peer owns.</summary>
    SpoofedMac,

    /// <summary>A packet arrived from a link while no virtual interface was attached (before AttachInterface, or after DetachInterfaceAsync).</summary>
    NoInterface,

    /// <summary>The kernel refused a write to the virtual interface.</summary>
    InterfaceWriteFailed,

    /// <summary>The socket refused a send.</summary>
    SendFailed,

    /// <summary>The socket reported an error on receive.</summary>
    ReceiveError,

    /// <summary>A handler threw (a bug).</summary>
    HandlerError,

    /// <summary>A handshake message arrived while too many waited for the link control loop (a handshake flood).</summary>
    HandshakeBacklog,

    /// <summary>
    /// A connectivity check (or the answer to one of ours) whose MESSAGE-INTEGRITY does not verify with the key of the
    /// link it names: a stranger, or a peer forging checks for another peer's link. Costs no check budget.
    /// </summary>
    CheckNotAuthenticated,

    /// <summary>An authenticated connectivity check beyond the per-second budget (a peer checking far too fast).</summary>
    CheckOverBudget,

    /// <summary>
    /// A packet or frame was larger than its link's path carries: from the interface, or passed on at a hop (TUN
    /// packets and TAP frames alike). Answered with "fragmentation needed" / "packet too big" where the packet is IP
    /// and may be answered (not for floods, group addresses or VLAN-tagged frames).
    /// </summary>
    PathMtuExceeded,

    /// <summary>A handshake message arrived while the handshake queue was full (the DH work waits there, off the receive thread).</summary>
    HandshakeQueueFull,

    /// <summary>Under handshake load, an initiation without a valid mac2 was answered with a cookie reply instead of DH work.</summary>
    HandshakeCookieRequired,

    /// <summary>Under handshake load, an initiation with a valid cookie over its source address's rate (20/s, burst 5).</summary>
    HandshakeRateLimited,

    /// <summary>Under handshake load, an initiation without a valid mac2 got no cookie reply either: cookie replies are rate-limited too.</summary>
    CookieReplyLimited,

    /// <summary>A packet to forward to another link whose IPv4 TTL or IPv6 hop limit ran out here (answered with ICMP time exceeded).</summary>
    HopLimitExceeded,

    /// <summary>A packet the router would forward back out of the link it came on (a routing loop between two members).</summary>
    ForwardLoop,

    /// <summary>
    /// A packet the router would forward that cannot be: a plain frame (frames cross members only as forwarded frames,
    /// which carry a hop count), a forwarded frame at a node that is no member of a structured overlay (its switch has no
    /// ring position), or a next hop that is not a link of this node.
    /// </summary>
    NotForwardable,
}
