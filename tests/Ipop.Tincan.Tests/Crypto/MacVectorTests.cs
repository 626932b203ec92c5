using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

/// <summary>
/// The published test vectors of the MACs and the KDF Ipop computes without OpenSSL: HMAC-SHA-256 (RFC 4231),
/// HMAC-SHA-1 (RFC 2202) and HKDF-SHA-256 (RFC 5869 appendix A.1-A.3). Keys are given as hex, or as "xNN*count".
/// </summary>
public sealed class MacVectorTests
{
    private const string LongKeyHashFirst = "Test Using Larger Than Block-Size Key - Hash Key First";

    [Theory]
    [InlineData("x0b*20", "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")]
    [InlineData("4a656665", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")]
    [InlineData("xaa*131", LongKeyHashFirst, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")]
    [InlineData("xaa*131", "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.", "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")]
    public void HmacSha256_matches_rfc_4231(string key, string data, string expected)
    {
        byte[] mac = new byte[HmacSha256.MacLength];
        HmacSha256.Compute(Bytes(key), Encoding.ASCII.GetBytes(data), mac);
        Assert.Equal(expected, Hex.Of(mac));
    }

    [Fact]
    public void HmacSha256_matches_rfc_4231_case_3_with_binary_data_in_three_parts()
    {
        byte[] data = Bytes("xdd*50");
        byte[] mac = new byte[HmacSha256.MacLength];
        HmacSha256.Compute(Bytes("xaa*20"), data.AsSpan(0, 1), data.AsSpan(1, 30), data.AsSpan(31), mac);
        Assert.Equal("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", Hex.Of(mac));
    }

    [Theory]
    [InlineData("x0b*20", "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00")]
    [InlineData("4a656665", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")]
    [InlineData("xaa*80", LongKeyHashFirst, "aa4ae5e15272d00e95705637ce8a3b55ed402112")]
    [InlineData("xaa*80", "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data", "e8e99d0f45237d786d6bbaa7965c7808bbff1a91")]
    public void HmacSha1_matches_rfc_2202(string key, string data, string expected)
    {
        byte[] mac = new byte[HmacSha1.MacLength];
        HmacSha1.Compute(Bytes(key), Encoding.ASCII.GetBytes(data), mac);
        Assert.Equal(expected, Hex.Of(mac));
    }

    [Fact]
    public void HmacSha1_matches_rfc_2202_case_3_with_binary_data_in_three_parts()
    {
        byte[] data = Bytes("xdd*50");
        byte[] mac = new byte[HmacSha1.MacLength];
        HmacSha1.Compute(Bytes("xaa*20"), data.AsSpan(0, 2), data.AsSpan(2, 2), data.AsSpan(4), mac);
        Assert.Equal("125d7342b9ac11cd91a39af48aa17b4f63f175d3", Hex.Of(mac));
    }

    [Theory]
    [InlineData( // A.1: basic
        "x0b*22", "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")]
    [InlineData( // A.2: longer inputs and outputs
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
        "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
        "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        82,
        "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87")]
    [InlineData( // A.3: zero-length salt and info
        "x0b*22", "", "", 42,
        "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")]
    public void Hkdf_matches_rfc_5869(string ikm, string salt, string info, int length, string prk, string okm)
    {
        byte[] pseudoRandomKey = new byte[HmacSha256.MacLength];
        Hkdf.Extract(Bytes(ikm), Bytes(salt), pseudoRandomKey);
        Assert.Equal(prk, Hex.Of(pseudoRandomKey));

        byte[] output = new byte[length];
        Hkdf.Expand(pseudoRandomKey, Bytes(info), output);
        Assert.Equal(okm, Hex.Of(output));

        Array.Clear(output);
        Hkdf.DeriveKey(Bytes(ikm), Bytes(salt), Bytes(info), output);
        Assert.Equal(okm, Hex.Of(output));
    }

    [Fact]
    public void Hkdf_refuses_more_than_255_blocks()
    {
        byte[] prk = new byte[32];
        Assert.Throws<ArgumentOutOfRangeException>(() => Hkdf.Expand(prk, [], new byte[Hkdf.MaxOutputLength + 1]));
        Hkdf.Expand(prk, [], new byte[Hkdf.MaxOutputLength]);
    }

    private static byte[] Bytes(string spec) =>
        spec.StartsWith('x') && spec.Contains('*', StringComparison.Ordinal)
            ? Enumerable.Repeat(Convert.ToByte(spec[1..3], 16), int.Parse(spec[4..], System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : Convert.FromHexString(spec);
}
