namespace Ipop;

/// <summary>Why a link did not come up or went down: the first thing to read when "the link never forms".</summary>
public enum LinkFailureReason
{
    /// <summary>No failure.</summary>
    None,

    /// <summary>Neither side had a usable candidate (no host address, every STUN and TURN server failed).</summary>
    NoCandidates,

    /// <summary>Every TURN server refused our credentials.</summary>
    TurnAuthenticationFailed,

    /// <summary>All connectivity checks on all candidate pairs timed out.</summary>
    ChecksTimedOut,

    /// <summary>The Noise handshake did not complete in time (packets lost or the peer did not answer).</summary>
    HandshakeTimedOut,

    /// <summary>The peer presented a static key that is not authorized for it.</summary>
    UnknownKey,

    /// <summary>The peer stopped answering keepalives on every path.</summary>
    PeerUnreachable,

    /// <summary>The controller removed the link or revoked the peer.</summary>
    Revoked,

    /// <summary>The link manager is shutting down.</summary>
    Shutdown,
}
