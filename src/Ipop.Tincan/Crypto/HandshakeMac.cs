using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// WireGuard's mac1 and mac2 (whitepaper section 5.4.4) with HMAC-SHA256: every handshake message ends with two
/// 16-byte MACs. mac1 covers the bytes before it, keyed with <c>SHA-256("mac1----" || receiver's static public key)</c>;
/// the receiver checks it before any Diffie-Hellman work, so a sender that does not know our public key (scanners,
/// floods of junk) costs one HMAC, not three curve operations. It proves nothing about the sender; Noise does that.
/// mac2 covers the message up to and including mac1, keyed with the last cookie the receiver sent us (a MAC of our
/// address, see <c>DataPlane.Handshake.CookieGenerator</c>), or is all zeros without one. A node under load answers
/// messages without a valid mac2 with a cookie reply instead of doing DH work, so a flooder must prove it receives
/// at the address it sends from, and can then be rate-limited per address.
/// </summary>
internal static class HandshakeMac
{
    /// <summary>Length of each MAC.</summary>
    public const int Length = 16;

    /// <summary>Both MACs, at the end of every handshake message: mac1 then mac2.</summary>
    public const int TrailerLength = 2 * Length;

    /// <summary>Derives the MAC key that protects messages sent to the owner of <paramref name="receiverPublicKey"/>.</summary>
    public static byte[] DeriveKey(ReadOnlySpan<byte> receiverPublicKey) => Derive("mac1----"u8, receiverPublicKey);

    /// <summary>
    /// Derives the XChaCha20-Poly1305 key of the cookie replies sent by the owner of <paramref name="responderPublicKey"/>:
    /// only a sender that knows the responder's public key (the one it addressed) can read the cookie.
    /// </summary>
    public static byte[] DeriveCookieKey(ReadOnlySpan<byte> responderPublicKey) => Derive("cookie--"u8, responderPublicKey);

    /// <summary>Writes mac1 of <c>message[..^32]</c> into <c>message[^32..^16]</c>; mac2 is left as it is.</summary>
    public static void Write(Span<byte> message, ReadOnlySpan<byte> key)
    {
        Span<byte> mac = stackalloc byte[32];
        HmacSha256.Compute(key, message[..^TrailerLength], mac);
        mac[..Length].CopyTo(Mac1(message));
    }

    /// <summary>Checks mac1 in constant time.</summary>
    public static bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key)
    {
        Span<byte> mac = stackalloc byte[32];
        HmacSha256.Compute(key, message[..^TrailerLength], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..Length], Mac1(message));
    }

    /// <summary>Writes mac2 of <c>message[..^16]</c> (mac1 included, so write mac1 first) keyed with <paramref name="cookie"/>.</summary>
    public static void WriteMac2(Span<byte> message, ReadOnlySpan<byte> cookie)
    {
        Span<byte> mac = stackalloc byte[32];
        HmacSha256.Compute(cookie, message[..^Length], mac);
        mac[..Length].CopyTo(message[^Length..]);
    }

    /// <summary>Checks mac2 against <paramref name="cookie"/> in constant time.</summary>
    public static bool VerifyMac2(ReadOnlySpan<byte> message, ReadOnlySpan<byte> cookie)
    {
        Span<byte> mac = stackalloc byte[32];
        HmacSha256.Compute(cookie, message[..^Length], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..Length], message[^Length..]);
    }

    /// <summary>
    /// False when mac2 is all zeros (the sender holds no cookie), so a flood without cookies costs no second HMAC.
    /// A real mac2 is all zeros with probability 2^-128.
    /// </summary>
    public static bool HasMac2(ReadOnlySpan<byte> message) => message[^Length..].IndexOfAnyExcept((byte)0) >= 0;

    /// <summary>The mac1 field of a handshake message (a cookie reply's associated data).</summary>
    public static ReadOnlySpan<byte> Mac1(ReadOnlySpan<byte> message) => message.Slice(message.Length - TrailerLength, Length);

    private static Span<byte> Mac1(Span<byte> message) => message.Slice(message.Length - TrailerLength, Length);

    private static byte[] Derive(ReadOnlySpan<byte> label, ReadOnlySpan<byte> publicKey)
    {
        Span<byte> input = stackalloc byte[8 + 32];
        label.CopyTo(input);
        publicKey.CopyTo(input[8..]);
        byte[] key = new byte[Sha256.HashLength];
        Sha256.Hash(input, key);
        return key;
    }
}
