namespace Ipop.Tincan.Stun;

/// <summary>Why a datagram was not accepted as a STUN message (RFC 8489 sections 5, 6.3 and 14).</summary>
internal enum StunParseError
{
    None,

    /// <summary>Shorter than the 20-byte header.</summary>
    TooShort,

    /// <summary>The two top bits are not zero or the magic cookie is wrong: not STUN (or pre-RFC 5389).</summary>
    NotStun,

    /// <summary>The header's length is not a multiple of 4 or does not match the datagram.</summary>
    LengthMismatch,

    /// <summary>An attribute's length runs past the end of the message.</summary>
    AttributeOverrun,

    /// <summary>MESSAGE-INTEGRITY(-SHA256) or FINGERPRINT has the wrong value length.</summary>
    BadAttributeLength,

    /// <summary>FINGERPRINT is not the last attribute.</summary>
    FingerprintNotLast,
}
