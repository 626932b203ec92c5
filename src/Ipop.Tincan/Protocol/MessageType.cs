namespace Ipop.Tincan.Protocol;

/// <summary>
/// The first byte of every Ipop datagram. Chosen outside RFC 7983's ranges for STUN (0-3) and TURN ChannelData
/// (64-79), so STUN, TURN and Ipop share one UDP socket and are told apart by that byte alone.
/// </summary>
internal enum MessageType : byte
{
    /// <summary>Noise IK message 1.</summary>
    HandshakeInitiation = 0x04,

    /// <summary>Noise IK message 2.</summary>
    HandshakeResponse = 0x05,

    /// <summary>Reserved for a WireGuard-style cookie reply under load.</summary>
    CookieReply = 0x06,

    /// <summary>An encrypted transport packet.</summary>
    TransportData = 0x07,
}
