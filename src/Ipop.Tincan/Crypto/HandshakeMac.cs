using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// WireGuard's mac1 (whitepaper section 5.4.4) with SHA-256: every handshake message ends with a 16-byte MAC over
/// the bytes before it, keyed with <c>SHA-256("mac1----" || receiver's static public key)</c>. The receiver checks
/// it before any Diffie-Hellman work, so a sender that does not know our public key (scanners, floods of junk)
/// costs one HMAC, not three curve operations. It proves nothing about the sender; Noise does that.
/// </summary>
internal static class HandshakeMac
{
    public const int Length = 16;

    /// <summary>Derives the MAC key that protects messages sent to the owner of <paramref name="receiverPublicKey"/>.</summary>
    public static byte[] DeriveKey(ReadOnlySpan<byte> receiverPublicKey)
    {
        Span<byte> input = stackalloc byte[8 + 32];
        "mac1----"u8.CopyTo(input);
        receiverPublicKey.CopyTo(input[8..]);
        return SHA256.HashData(input);
    }

    /// <summary>Writes the MAC of <c>message[..^16]</c> into the last 16 bytes of <paramref name="message"/>.</summary>
    public static void Write(Span<byte> message, ReadOnlySpan<byte> key)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, message[..^Length], mac);
        mac[..Length].CopyTo(message[^Length..]);
    }

    /// <summary>Checks the trailing MAC in constant time.</summary>
    public static bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, message[..^Length], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..Length], message[^Length..]);
    }
}
