using System.Collections.Immutable;
using System.Net;
using CsCheck;

namespace Ipop.Tests;

/// <summary>Every descriptor within the documented limits, static ones included, survives <c>ToJson</c> then <c>Parse</c>.</summary>
public sealed class LinkDescriptorPropertyTests
{
    private static readonly Gen<string> Text = Gen.Char['!', '~'].Array[0, 40].Select(c => new string(c));

    private static readonly Gen<IPAddress> Address = Gen.OneOf(
        Gen.Byte.Array[4].Select(b => new IPAddress(b)),
        Gen.Byte.Array[16].Select(b => new IPAddress(b)));

    private static readonly Gen<Candidate> AnyCandidate =
        Gen.Select(Gen.Enum<CandidateType>(), Address, Gen.Int[1, 65535], Gen.UInt, Text, Gen.Bool, Text)
            .Select((type, address, port, priority, foundation, hasServer, server) =>
                new Candidate(type, new IPEndPoint(address, port), priority, foundation, hasServer ? server : null));

    private static readonly Gen<(string Username, string Password)> Credentials = Gen.OneOf(
        Gen.Const((string.Empty, string.Empty)),
        Gen.Select(Gen.Char['a', 'z'].Array[4, 256], Gen.Char['!', '~'].Array[22, 256]).Select((u, p) => (new string(u), new string(p))));

    private static readonly Gen<LinkDescriptor> AnyDescriptor =
        Gen.Select(Gen.Byte.Array[32], AnyCandidate.Array[0, LinkDescriptor.MaxCandidates], Credentials)
            .Select((key, candidates, credentials) => new LinkDescriptor(new NodePublicKey(key), [.. candidates], credentials.Username, credentials.Password));

    [Fact]
    public void Every_valid_descriptor_round_trips() =>
        AnyDescriptor.Sample(original =>
        {
            LinkDescriptor parsed = LinkDescriptor.Parse(original.ToJson());
            Assert.Equal(original.Key, parsed.Key);
            Assert.Equal(original.CheckUsername, parsed.CheckUsername);
            Assert.Equal(original.CheckPassword, parsed.CheckPassword);
            Assert.Equal(original.IsStatic, parsed.IsStatic);
            Assert.Equal(original.Candidates.AsEnumerable(), parsed.Candidates.AsEnumerable());
            Assert.Equal(original.ToJson(), parsed.ToJson());
        }, iter: 2000);

    [Fact]
    public void A_static_descriptor_round_trips()
    {
        var original = new LinkDescriptor(new NodePublicKey(new byte[32]), [new Candidate(CandidateType.Host, IPEndPoint.Parse("198.18.0.2:51820"), 1, "static")], string.Empty, string.Empty);
        LinkDescriptor parsed = LinkDescriptor.Parse(original.ToJson());
        Assert.True(parsed.IsStatic);
        Assert.Equal(original.Candidates.AsEnumerable(), parsed.Candidates.AsEnumerable());
    }

    [Theory]
    [InlineData("", "0123456789abcdefghijklmn", "field 'ufrag'")]
    [InlineData("abcd", "", "field 'pwd'")]
    public void Half_a_static_descriptor_is_refused_naming_the_field(string ufrag, string pwd, string expected)
    {
        string json = new LinkDescriptor(new NodePublicKey(new byte[32]), ImmutableArray<Candidate>.Empty, ufrag, pwd).ToJson();
        FormatException e = Assert.Throws<FormatException>(() => LinkDescriptor.Parse(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
