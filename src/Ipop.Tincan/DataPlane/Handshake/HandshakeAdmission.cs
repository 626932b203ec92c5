namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>What the receive thread does with a handshake message whose mac1 is valid (see <see cref="HandshakeGate"/>).</summary>
internal enum HandshakeAdmission
{
    /// <summary>Queue it for the DH work.</summary>
    Queue,

    /// <summary>Under load without a valid mac2: answer with a cookie reply, no DH work.</summary>
    SendCookie,

    /// <summary>Under load without a valid mac2, and the cookie replies to its address (or in all) are over their rate: drop it.</summary>
    CookieLimited,

    /// <summary>Its mac1 is wrong: the sender does not know our public key.</summary>
    WrongMac1,

    /// <summary>Under load with a valid mac2, but its address is over its initiation rate: drop it.</summary>
    RateLimited,
}
