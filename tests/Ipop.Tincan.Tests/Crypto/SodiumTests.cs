using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

public sealed class SodiumTests
{
    [Fact]
    public void State_sizes_match_the_loaded_libsodium()
    {
        // The callers stackalloc the states with these sizes: a libsodium with larger states would overrun them.
        Assert.Equal((nuint)(Sodium.Sha256StateWords * sizeof(ulong)), Sodium.crypto_hash_sha256_statebytes());
        Assert.Equal((nuint)(Sodium.HmacSha256StateWords * sizeof(ulong)), Sodium.crypto_auth_hmacsha256_statebytes());
    }

    [Fact]
    public void Initialization_is_idempotent()
    {
        // The static constructor (or NSec) ran it already: libsodium says so with 1.
        SecureRandom.Fill(new byte[1]);
        Assert.Equal(1, Sodium.sodium_init());
    }

    [Fact]
    public void Random_bytes_differ_between_calls_and_cover_the_whole_buffer()
    {
        byte[] a = new byte[64];
        byte[] b = new byte[64];
        SecureRandom.Fill(a);
        SecureRandom.Fill(b);
        Assert.False(a.AsSpan().SequenceEqual(b));
        // 32 zero bytes at the end by chance: 2^-256.
        Assert.True(a.AsSpan(32).IndexOfAnyExcept((byte)0) >= 0);
        Assert.NotEqual(SecureRandom.NextUInt64(), SecureRandom.NextUInt64());
    }

    [Fact]
    public void Random_strings_use_only_the_alphabet_and_all_of_it()
    {
        string s = SecureRandom.GetString("ab", 400);
        Assert.Equal(400, s.Length);
        Assert.All(s, c => Assert.True(c is 'a' or 'b'));
        // Each letter missing from 400 fair draws: 2^-399.
        Assert.Contains('a', s);
        Assert.Contains('b', s);
        Assert.Equal(string.Empty, SecureRandom.GetString("ab", 0));
    }
}
