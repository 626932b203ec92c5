using System.Security.Cryptography;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

/// <summary>
/// Every length 0..300 (all the block-boundary cases of the padding, and keys shorter than, equal to and longer
/// than a block) against .NET's OpenSSL-backed implementations, with random data and keys from a fixed seed.
/// The tests may load OpenSSL; the node must not.
/// </summary>
#pragma warning disable CA5350, CA5351 // SHA-1 and MD5 are the subjects here, as the STUN/TURN specs fix them.
public sealed class CrossCheckTests
{
    private const int MaxLength = 300;

    [Fact]
    public void Digests_equal_dotnets_for_every_length_up_to_300()
    {
        var random = new Random(14);
        Span<byte> actual = stackalloc byte[32];
        for (int length = 0; length <= MaxLength; length++)
        {
            byte[] data = new byte[length];
            random.NextBytes(data);

            Sha256.Hash(data, actual);
            Assert.True(SHA256.HashData(data).AsSpan().SequenceEqual(actual[..32]), $"SHA-256 differs at length {length}");

            Sha1.Hash(data, actual);
            Assert.True(SHA1.HashData(data).AsSpan().SequenceEqual(actual[..20]), $"SHA-1 differs at length {length}");

            Md5.Hash(data, actual);
            Assert.True(MD5.HashData(data).AsSpan().SequenceEqual(actual[..16]), $"MD5 differs at length {length}");

            int split = length == 0 ? 0 : random.Next(length + 1);
            Sha256.Hash(data.AsSpan(0, split), data.AsSpan(split), actual);
            Assert.True(SHA256.HashData(data).AsSpan().SequenceEqual(actual[..32]), $"two-part SHA-256 differs at length {length}, split {split}");
        }
    }

    [Fact]
    public void Macs_equal_dotnets_for_every_data_and_key_length_up_to_300()
    {
        var random = new Random(1414);
        Span<byte> actual = stackalloc byte[32];
        for (int length = 0; length <= MaxLength; length++)
        {
            byte[] data = new byte[length];
            byte[] key = new byte[(length * 37) % (MaxLength + 1)];
            random.NextBytes(data);
            random.NextBytes(key);
            int a = random.Next(length + 1);
            int b = a + random.Next(length - a + 1);

            HmacSha256.Compute(key, data, actual);
            Assert.True(HMACSHA256.HashData(key, data).AsSpan().SequenceEqual(actual), $"HMAC-SHA-256 differs at data {length}, key {key.Length}");
            HmacSha256.Compute(key, data.AsSpan(0, a), data.AsSpan(a, b - a), data.AsSpan(b), actual);
            Assert.True(HMACSHA256.HashData(key, data).AsSpan().SequenceEqual(actual), $"three-part HMAC-SHA-256 differs at data {length}, key {key.Length}");

            HmacSha1.Compute(key, data, actual);
            Assert.True(HMACSHA1.HashData(key, data).AsSpan().SequenceEqual(actual[..20]), $"HMAC-SHA-1 differs at data {length}, key {key.Length}");
            HmacSha1.Compute(key, data.AsSpan(0, a), data.AsSpan(a, b - a), data.AsSpan(b), actual);
            Assert.True(HMACSHA1.HashData(key, data).AsSpan().SequenceEqual(actual[..20]), $"three-part HMAC-SHA-1 differs at data {length}, key {key.Length}");
        }
    }

    [Fact]
    public void Hkdf_equals_dotnets_for_every_output_length_up_to_300()
    {
        var random = new Random(5869);
        for (int length = 1; length <= MaxLength; length++)
        {
            byte[] ikm = new byte[length % 80];
            byte[] salt = new byte[(length * 7) % 100];
            byte[] info = new byte[(length * 13) % 90];
            random.NextBytes(ikm);
            random.NextBytes(salt);
            random.NextBytes(info);

            byte[] actual = new byte[length];
            Hkdf.DeriveKey(ikm, salt, info, actual);
            byte[] expected = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, length, salt, info);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"HKDF differs at output {length}, ikm {ikm.Length}, salt {salt.Length}, info {info.Length}");
        }
    }
}
#pragma warning restore CA5350, CA5351
