using System.Buffers.Binary;
using Ipop.Tincan.Crypto;
using NSec.Cryptography;

namespace Ipop.Tincan.Protocol;

/// <summary>
/// Cookie reply (WireGuard section 5.4.7): type (0x06), 3 reserved zero bytes, receiver index (the sender index of
/// the handshake message answered, 4 bytes little-endian), a random 24-byte nonce, then the 16-byte cookie sealed
/// with XChaCha20-Poly1305 (32 bytes) = 64 bytes. The key is derived from the responder's public key
/// (<see cref="Crypto.HandshakeMac.DeriveCookieKey"/>) and the associated data is the mac1 of the message answered,
/// so only the sender of that message, which knows the public key it addressed, can read and use the cookie.
/// </summary>
internal static class CookieReplyMessage
{
    public const int CookieLength = 16;
    public const int NonceLength = 24;
    public const int Length = 8 + NonceLength + CookieLength + 16;

    private static AeadAlgorithm Aead => AeadAlgorithm.XChaCha20Poly1305;

    /// <summary>Imports the raw reply key (from <see cref="Crypto.HandshakeMac.DeriveCookieKey"/>) once, for <see cref="Write"/>.</summary>
    public static Key ImportKey(ReadOnlySpan<byte> key) => Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);

    /// <summary>Writes a reply carrying <paramref name="cookie"/> sealed under <paramref name="key"/> (a fresh random nonce).</summary>
    public static void Write(Span<byte> destination, uint receiverIndex, ReadOnlySpan<byte> cookie, Key key, ReadOnlySpan<byte> answeredMac1)
    {
        destination[0] = (byte)MessageType.CookieReply;
        destination[1] = 0;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], receiverIndex);
        Span<byte> nonce = destination.Slice(8, NonceLength);
        SecureRandom.Fill(nonce);
        Aead.Encrypt(key, nonce, answeredMac1, cookie, destination.Slice(8 + NonceLength, CookieLength + Aead.TagSize));
    }

    /// <summary>Parses the header of a cookie reply; <c>false</c> when it is not a well-formed one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out uint receiverIndex)
    {
        if (datagram.Length != Length || datagram[0] != (byte)MessageType.CookieReply || datagram[1] != 0 || datagram[2] != 0 || datagram[3] != 0)
        {
            receiverIndex = 0;
            return false;
        }

        receiverIndex = BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]);
        return true;
    }

    /// <summary>Opens the cookie of a reply to the message whose mac1 was <paramref name="answeredMac1"/>; false when it does not authenticate.</summary>
    public static bool TryOpen(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key, ReadOnlySpan<byte> answeredMac1, Span<byte> cookie)
    {
        if (datagram.Length != Length)
        {
            return false;
        }

        using Key openKey = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
        return Aead.Decrypt(openKey, datagram.Slice(8, NonceLength), answeredMac1, datagram[(8 + NonceLength)..], cookie[..CookieLength]);
    }
}
