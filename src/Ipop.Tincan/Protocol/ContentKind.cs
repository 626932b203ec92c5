namespace Ipop.Tincan.Protocol;

/// <summary>What a transport packet carries (authenticated as part of the header).</summary>
internal enum ContentKind : byte
{
    /// <summary>An IP packet or Ethernet frame for the virtual interface.</summary>
    Packet = 0,

    /// <summary>A controller-to-controller message (IPOP's ICC).</summary>
    Control = 1,

    /// <summary>An empty keepalive (keeps NAT mappings and liveness).</summary>
    Keepalive = 2,

    /// <summary>
    /// A path MTU probe (RFC 8899): a 4-byte round id, the 2-byte size under test, then padding up to that size. Peers
    /// that predate it drop it as malformed, so their links stay at the base size.
    /// </summary>
    Probe = 3,

    /// <summary>The answer to a <see cref="Probe"/>: its round id and size, 6 bytes.</summary>
    ProbeAck = 4,

    /// <summary>
    /// An echo request (<c>ping</c> over the link, <see cref="DataPlane.EchoMessage"/>): an 8-byte id. Inside the tunnel, so it
    /// needs no IP configuration and works the same on TUN and TAP links. Peers that predate it drop it as malformed.
    /// </summary>
    EchoRequest = 5,

    /// <summary>The answer to an <see cref="EchoRequest"/>: the same 8-byte id.</summary>
    EchoReply = 6,

    /// <summary>
    /// An Ethernet frame crossing members of a structured overlay in switch (TAP) mode: a 12-byte
    /// <see cref="ForwardedFrameHeader"/> (hops left, flood flag, flood bound), then the frame. Peers that predate it
    /// drop it as malformed.
    /// </summary>
    ForwardedFrame = 7,
}
