using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

/// <summary>
/// The published test vectors of the digests Ipop computes without OpenSSL: SHA-256 and SHA-1 (FIPS 180 examples,
/// RFC 6234 section 8.5) and MD5 (RFC 1321 appendix A.5).
/// </summary>
public sealed class DigestVectorTests
{
    private const string Abc448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData(Abc448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void Sha256_matches_fips_180_examples(string message, string expected)
    {
        byte[] digest = new byte[Sha256.HashLength];
        Sha256.Hash(Encoding.ASCII.GetBytes(message), digest);
        Assert.Equal(expected, Hex.Of(digest));
    }

    [Fact]
    public void Sha256_of_a_million_a_matches_fips_180()
    {
        byte[] digest = new byte[Sha256.HashLength];
        Sha256.Hash(Enumerable.Repeat((byte)'a', 1_000_000).ToArray(), digest);
        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Hex.Of(digest));
    }

    [Fact]
    public void Sha256_of_two_parts_equals_the_hash_of_their_concatenation()
    {
        byte[] message = Encoding.ASCII.GetBytes(Abc448);
        byte[] digest = new byte[Sha256.HashLength];
        Sha256.Hash(message.AsSpan(0, 13), message.AsSpan(13), digest);
        Assert.Equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", Hex.Of(digest));

        // In place, as Noise's MixHash does it: h = SHA-256(h || data).
        byte[] h = Encoding.ASCII.GetBytes("abc").Concat(new byte[29]).ToArray();
        byte[] expected = new byte[Sha256.HashLength];
        Sha256.Hash([.. h, .. "xyz"u8], expected);
        Sha256.Hash(h, "xyz"u8, h);
        Assert.Equal(Hex.Of(expected), Hex.Of(h));
    }

    [Theory]
    [InlineData("", "da39a3ee5e6b4b0d3255bfef95601890afd80709")]
    [InlineData("abc", "a9993e364706816aba3e25717850c26c9cd0d89d")]
    [InlineData(Abc448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1")]
    public void Sha1_matches_fips_180_examples(string message, string expected)
    {
        byte[] digest = new byte[Sha1.HashLength];
        Sha1.Hash(Encoding.ASCII.GetBytes(message), digest);
        Assert.Equal(expected, Hex.Of(digest));
    }

    [Fact]
    public void Sha1_of_a_million_a_matches_fips_180_whether_appended_at_once_or_in_odd_pieces()
    {
        byte[] message = Enumerable.Repeat((byte)'a', 1_000_000).ToArray();
        byte[] digest = new byte[Sha1.HashLength];
        Sha1.Hash(message, digest);
        Assert.Equal("34aa973cd4c4daa4f61eeb2bdbad27316534016f", Hex.Of(digest));

        var sha1 = new Sha1(stackalloc byte[Sha1.BlockLength]);
        ReadOnlySpan<byte> rest = message;
        for (int piece = 1; !rest.IsEmpty; piece = (piece * 7 % 131) + 1)
        {
            int take = Math.Min(piece, rest.Length);
            sha1.Append(rest[..take]);
            rest = rest[take..];
        }

        Array.Clear(digest);
        sha1.Finish(digest);
        Assert.Equal("34aa973cd4c4daa4f61eeb2bdbad27316534016f", Hex.Of(digest));
    }

    [Theory]
    [InlineData("", "d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("a", "0cc175b9c0f1b6a831c399e269772661")]
    [InlineData("abc", "900150983cd24fb0d6963f7d28e17f72")]
    [InlineData("message digest", "f96b697d7cb7938d525a2f31aaf161d0")]
    [InlineData("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f")]
    [InlineData("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a")]
    public void Md5_matches_the_rfc_1321_test_suite(string message, string expected)
    {
        byte[] digest = new byte[Md5.HashLength];
        Md5.Hash(Encoding.ASCII.GetBytes(message), digest);
        Assert.Equal(expected, Hex.Of(digest));
    }
}
