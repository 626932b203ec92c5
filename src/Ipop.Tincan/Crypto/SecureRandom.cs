using System.Buffers.Binary;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// Cryptographically secure random values from libsodium's <c>randombytes</c> (the kernel's getrandom), instead of
/// <c>RandomNumberGenerator</c>, which on Linux loads OpenSSL (see <see cref="Sodium"/>). Thread-safe, allocation-free
/// except <see cref="GetString"/>.
/// </summary>
internal static unsafe class SecureRandom
{
    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    public static void Fill(Span<byte> destination)
    {
        fixed (byte* buffer = destination)
        {
            Sodium.randombytes_buf(buffer, (nuint)destination.Length);
        }
    }

    /// <summary>A uniformly random 32-bit value.</summary>
    public static uint NextUInt32()
    {
        Span<byte> bytes = stackalloc byte[sizeof(uint)];
        Fill(bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    /// <summary>A uniformly random 64-bit value.</summary>
    public static ulong NextUInt64()
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        Fill(bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    /// <summary>A string of <paramref name="length"/> characters, each drawn uniformly from <paramref name="alphabet"/>.</summary>
    public static string GetString(string alphabet, int length)
    {
        ArgumentException.ThrowIfNullOrEmpty(alphabet);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return string.Create(length, alphabet, static (chars, alphabet) =>
        {
            for (int i = 0; i < chars.Length; i++)
            {
                // randombytes_uniform rejects the values that would bias a modulo (libsodium's documented contract).
                chars[i] = alphabet[(int)Sodium.randombytes_uniform((uint)alphabet.Length)];
            }
        });
    }
}
