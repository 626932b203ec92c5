namespace Ipop.Tincan.Crypto;

/// <summary>SHA-256 (FIPS 180-4) through libsodium (<see cref="Sodium"/>): allocation-free, spans only.</summary>
internal static unsafe class Sha256
{
    /// <summary>Length of a digest.</summary>
    public const int HashLength = 32;

    /// <summary>Writes SHA-256(<paramref name="data"/>) to the first 32 bytes of <paramref name="destination"/>.</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, HashLength, nameof(destination));
        fixed (byte* input = data)
        fixed (byte* output = destination)
        {
            _ = Sodium.crypto_hash_sha256(output, input, (ulong)data.Length);
        }
    }

    /// <summary>Writes SHA-256(<paramref name="first"/> || <paramref name="second"/>) without concatenating them.</summary>
    public static void Hash(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, HashLength, nameof(destination));
        ulong* state = stackalloc ulong[Sodium.Sha256StateWords];
        fixed (byte* a = first)
        fixed (byte* b = second)
        fixed (byte* output = destination)
        {
            _ = Sodium.crypto_hash_sha256_init(state);
            _ = Sodium.crypto_hash_sha256_update(state, a, (ulong)first.Length);
            _ = Sodium.crypto_hash_sha256_update(state, b, (ulong)second.Length);
            // final wipes the state.
            _ = Sodium.crypto_hash_sha256_final(state, output);
        }
    }
}
