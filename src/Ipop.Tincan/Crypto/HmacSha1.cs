using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// HMAC-SHA-1 (RFC 2104) on the managed <see cref="Sha1"/>, allocation-free: STUN MESSAGE-INTEGRITY (RFC 8489
/// section 14.5) and TURN REST credentials, which the protocols fix to SHA-1.
/// </summary>
internal static class HmacSha1
{
    /// <summary>Length of a MAC.</summary>
    public const int MacLength = Sha1.HashLength;

    /// <summary>Writes HMAC-SHA-1(<paramref name="key"/>, <paramref name="data"/>) to the first 20 bytes of <paramref name="mac"/>.</summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> mac) =>
        Compute(key, data, ReadOnlySpan<byte>.Empty, ReadOnlySpan<byte>.Empty, mac);

    /// <summary>
    /// Writes HMAC-SHA-1(<paramref name="key"/>, <paramref name="first"/> || <paramref name="second"/> || <paramref name="third"/>)
    /// to the first 20 bytes of <paramref name="mac"/>, without concatenating the parts.
    /// </summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> third, Span<byte> mac)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mac.Length, MacLength, nameof(mac));
        Span<byte> pad = stackalloc byte[Sha1.BlockLength];
        Span<byte> block = stackalloc byte[Sha1.BlockLength];
        Span<byte> inner = stackalloc byte[Sha1.HashLength];

        // The key block: a key longer than a block is hashed first; the rest is zero padding.
        pad.Clear();
        if (key.Length > Sha1.BlockLength)
        {
            Sha1.Hash(key, pad);
        }
        else
        {
            key.CopyTo(pad);
        }

        Xor(pad, 0x36);
        var sha1 = new Sha1(block);
        sha1.Append(pad);
        sha1.Append(first);
        sha1.Append(second);
        sha1.Append(third);
        sha1.Finish(inner);

        // 0x36 ^ 0x6a == 0x5c: from the inner pad to the outer one.
        Xor(pad, 0x36 ^ 0x5c);
        sha1 = new Sha1(block);
        sha1.Append(pad);
        sha1.Append(inner);
        sha1.Finish(mac);

        CryptographicOperations.ZeroMemory(pad);
        CryptographicOperations.ZeroMemory(inner);
    }

    private static void Xor(Span<byte> bytes, byte value)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] ^= value;
        }
    }
}
