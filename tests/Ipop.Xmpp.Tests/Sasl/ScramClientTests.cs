using System.Security.Cryptography;
using Ipop.Xmpp.Sasl;

namespace Ipop.Xmpp.Tests.Sasl;

public sealed class ScramClientTests
{
    [Fact]
    public void Scram_sha1_matches_the_RFC_5802_example()
    {
        var scram = new ScramClient(HashAlgorithmName.SHA1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        Assert.Equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", scram.ClientFirst());
        string final = scram.ClientFinal("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
        Assert.Equal("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", final);
        scram.VerifyServerFinal("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    }

    [Fact]
    public void Scram_sha256_matches_the_RFC_7677_example()
    {
        var scram = new ScramClient(HashAlgorithmName.SHA256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        Assert.Equal("SCRAM-SHA-256", scram.Mechanism);
        Assert.Equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", scram.ClientFirst());
        string final = scram.ClientFinal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        Assert.Equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", final);
        scram.VerifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    [Fact]
    public void Wrong_server_signature_is_rejected()
    {
        var scram = new ScramClient(HashAlgorithmName.SHA256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        scram.ClientFirst();
        scram.ClientFinal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        SaslException ex = Assert.Throws<SaslException>(() => scram.VerifyServerFinal("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
        Assert.Contains("server signature", ex.Message, StringComparison.Ordinal);
        Assert.Throws<SaslException>(() => scram.VerifyServerFinal("e=invalid-proof"));
    }

    [Theory]
    [InlineData("r=someoneelse123,s=QSXCR+Q6sek8bf92,i=4096", "nonce")]
    [InlineData("r=abc,s=QSXCR+Q6sek8bf92,i=4096", "nonce")]
    [InlineData("r=abcdef,i=4096", "salt")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=0", "iteration")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999", "iteration")]
    [InlineData("r=abcdef,s=!!!,i=4096", "base64")]
    [InlineData("m=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096", "extension")]
    public void Malformed_server_first_message_is_rejected(string serverFirst, string mentions)
    {
        var scram = new ScramClient(HashAlgorithmName.SHA1, "user", "pencil", "abc");
        scram.ClientFirst();
        SaslException ex = Assert.Throws<SaslException>(() => scram.ClientFinal(serverFirst));
        Assert.Contains(mentions, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Comma_and_equals_in_the_username_are_escaped()
    {
        var scram = new ScramClient(HashAlgorithmName.SHA1, "a,b=c", "x", "n1");
        Assert.Equal("n,,n=a=2Cb=3Dc,r=n1", scram.ClientFirst());
    }
}
