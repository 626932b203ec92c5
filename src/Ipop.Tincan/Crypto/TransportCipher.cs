using System.Buffers.Binary;
using NSec.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// ChaCha20-Poly1305 with Noise's nonce layout (Noise spec section 12.3: 32 zero bits, then the 64-bit counter
/// little-endian), used by the handshake's CipherState and by every transport packet.
/// </summary>
/// <remarks>
/// NSec accepts a plaintext and ciphertext that overlap only when both start at the same address, which is
/// exactly what in-place sealing and opening need, so the data path seals and opens without a copy.
/// </remarks>
internal static class TransportCipher
{
    public const int KeyLength = 32;
    public const int TagLength = 16;
    public const int NonceLength = 12;

    public static AeadAlgorithm Algorithm => AeadAlgorithm.ChaCha20Poly1305;

    public static Key ImportKey(ReadOnlySpan<byte> key) =>
        Key.Import(AeadAlgorithm.ChaCha20Poly1305, key, KeyBlobFormat.RawSymmetricKey);

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="ciphertext"/> (plaintext length + 16).</summary>
    public static void Seal(Key key, ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(counter, nonce);
        AeadAlgorithm.ChaCha20Poly1305.Encrypt(key, nonce, associatedData, plaintext, ciphertext[..(plaintext.Length + TagLength)]);
    }

    /// <summary>Opens <paramref name="ciphertext"/> into <paramref name="plaintext"/> (ciphertext length - 16).</summary>
    /// <returns><c>false</c> if authentication failed.</returns>
    public static bool Open(Key key, ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (ciphertext.Length < TagLength)
        {
            return false;
        }

        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(counter, nonce);
        return AeadAlgorithm.ChaCha20Poly1305.Decrypt(key, nonce, associatedData, ciphertext, plaintext[..(ciphertext.Length - TagLength)]);
    }

    private static void WriteNonce(ulong counter, Span<byte> nonce)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
    }
}
