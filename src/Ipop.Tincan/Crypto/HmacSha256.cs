namespace Ipop.Tincan.Crypto;

/// <summary>
/// HMAC-SHA-256 (RFC 2104) through libsodium (<see cref="Sodium"/>): allocation-free, spans only. Uses libsodium's
/// init/update/final API, which takes a key of any length (a key longer than the 64-byte block is hashed first, as
/// RFC 2104 says); the one-shot <c>crypto_auth_hmacsha256</c> would take exactly 32 bytes.
/// </summary>
internal static unsafe class HmacSha256
{
    /// <summary>Length of a MAC.</summary>
    public const int MacLength = 32;

    /// <summary>Writes HMAC-SHA-256(<paramref name="key"/>, <paramref name="data"/>) to the first 32 bytes of <paramref name="mac"/>.</summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> mac) =>
        Compute(key, data, ReadOnlySpan<byte>.Empty, ReadOnlySpan<byte>.Empty, mac);

    /// <summary>
    /// Writes HMAC-SHA-256(<paramref name="key"/>, <paramref name="first"/> || <paramref name="second"/> || <paramref name="third"/>)
    /// to the first 32 bytes of <paramref name="mac"/>, without concatenating the parts.
    /// </summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> third, Span<byte> mac)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mac.Length, MacLength, nameof(mac));
        ulong* state = stackalloc ulong[Sodium.HmacSha256StateWords];
        fixed (byte* k = key)
        fixed (byte* a = first)
        fixed (byte* b = second)
        fixed (byte* c = third)
        fixed (byte* output = mac)
        {
            _ = Sodium.crypto_auth_hmacsha256_init(state, k, (nuint)key.Length);
            _ = Sodium.crypto_auth_hmacsha256_update(state, a, (ulong)first.Length);
            _ = Sodium.crypto_auth_hmacsha256_update(state, b, (ulong)second.Length);
            _ = Sodium.crypto_auth_hmacsha256_update(state, c, (ulong)third.Length);
            // final wipes both inner states (the key-derived pads).
            _ = Sodium.crypto_auth_hmacsha256_final(state, output);
        }
    }
}
