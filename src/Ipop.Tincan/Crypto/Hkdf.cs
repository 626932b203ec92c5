using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// HKDF-SHA-256 (RFC 5869) on <see cref="HmacSha256"/>: allocation-free, spans only. Noise's HKDF (spec section 4.3)
/// is this with the chaining key as the salt and an empty info; unlike NSec's HkdfSha256 it takes an empty input key
/// material, which Noise's Split() needs.
/// </summary>
internal static class Hkdf
{
    /// <summary>The most a single expansion may produce (RFC 5869 section 2.3: 255 blocks).</summary>
    public const int MaxOutputLength = 255 * HmacSha256.MacLength;

    /// <summary>HKDF-Extract: PRK = HMAC(salt, ikm); an empty salt acts as 32 zero bytes (RFC 5869 section 2.2).</summary>
    public static void Extract(ReadOnlySpan<byte> inputKeyMaterial, ReadOnlySpan<byte> salt, Span<byte> pseudoRandomKey) =>
        // HMAC pads a short key with zeros to the block size, so an empty key and 32 zero bytes give the same MAC.
        HmacSha256.Compute(salt, inputKeyMaterial, pseudoRandomKey);

    /// <summary>HKDF-Expand: fills <paramref name="output"/> with T(1) || T(2) || ... (RFC 5869 section 2.3).</summary>
    public static void Expand(ReadOnlySpan<byte> pseudoRandomKey, ReadOnlySpan<byte> info, Span<byte> output)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(output.Length, MaxOutputLength, nameof(output));
        Span<byte> block = stackalloc byte[HmacSha256.MacLength];
        Span<byte> counter = stackalloc byte[1];
        scoped ReadOnlySpan<byte> previous = ReadOnlySpan<byte>.Empty;
        int offset = 0;
        for (int i = 1; offset < output.Length; i++)
        {
            counter[0] = (byte)i;
            // T(i) = HMAC(PRK, T(i-1) || info || i): T(i-1) is read from block before final writes over it.
            HmacSha256.Compute(pseudoRandomKey, previous, info, counter, block);
            int take = Math.Min(block.Length, output.Length - offset);
            block[..take].CopyTo(output[offset..]);
            offset += take;
            previous = block;
        }

        CryptographicOperations.ZeroMemory(block);
    }

    /// <summary>Extract then expand: <paramref name="output"/> = HKDF(<paramref name="salt"/>, <paramref name="inputKeyMaterial"/>, <paramref name="info"/>).</summary>
    public static void DeriveKey(ReadOnlySpan<byte> inputKeyMaterial, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, Span<byte> output)
    {
        Span<byte> pseudoRandomKey = stackalloc byte[HmacSha256.MacLength];
        Extract(inputKeyMaterial, salt, pseudoRandomKey);
        Expand(pseudoRandomKey, info, output);
        CryptographicOperations.ZeroMemory(pseudoRandomKey);
    }
}
