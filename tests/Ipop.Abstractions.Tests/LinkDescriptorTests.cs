using System.Collections.Immutable;
using System.Net;
using Ipop.Lab;

namespace Ipop.Tests;

public sealed class LinkDescriptorTests
{
    private static readonly NodePublicKey Key = new(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private static LinkDescriptor Sample() => new(
        Key,
        [
            new Candidate(CandidateType.Host, IPEndPoint.Parse("198.18.1.2:40000"), Candidate.ComputePriority(CandidateType.Host, 65535), "h1"),
            new Candidate(CandidateType.ServerReflexive, IPEndPoint.Parse("198.18.0.11:40000"), Candidate.ComputePriority(CandidateType.ServerReflexive, 65535), "s1", "198.18.0.3:3478"),
            new Candidate(CandidateType.Relayed, IPEndPoint.Parse("[2001:2::3]:50000"), Candidate.ComputePriority(CandidateType.Relayed, 100), "r1", "turn-a"),
        ],
        "ufrag1",
        "0123456789abcdefghijklmn");

    [Fact]
    public void Round_trips_through_json()
    {
        LinkDescriptor original = Sample();
        LinkDescriptor parsed = LinkDescriptor.Parse(original.ToJson());
        Assert.Equal(original.Key, parsed.Key);
        Assert.Equal(original.CheckUsername, parsed.CheckUsername);
        Assert.Equal(original.CheckPassword, parsed.CheckPassword);
        Assert.Equal(original.Candidates, parsed.Candidates);
    }

    [Fact]
    public void Encoded_form_is_stable() => Snapshot.Verify(Sample().ToJson());

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{\"v\":2}", "field 'v': expected 1, got 2")]
    [InlineData("{\"v\":1,\"key\":\"abc\"}", "field 'key'")]
    [InlineData("{\"v\":1,\"key\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\",\"ufrag\":\"ab\"}", "field 'ufrag': expected 4..256")]
    // Found by fuzzing (fuzz/corpus/link-descriptor/crash-number-type-*): a string where a number belongs threw
    // InvalidOperationException instead of FormatException.
    [InlineData("{\"v\":\"1\"}", "field 'v': expected an integer")]
    [InlineData("{\"v\":1,\"key\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdefghijkl\",\"candidates\":[{\"type\":\"host\",\"addr\":\"198.18.0.1\",\"port\":\"5800\",\"prio\":1}]}", "port': expected an integer")]
    [InlineData("{\"v\":1,\"key\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdefghijkl\",\"candidates\":[{\"type\":\"host\",\"addr\":\"198.18.0.1\",\"port\":5800,\"prio\":\"h1\"}]}", "prio': expected an unsigned 32-bit number")]
    public void Rejects_bad_descriptors_naming_the_field(string json, string expected)
    {
        FormatException e = Assert.Throws<FormatException>(() => LinkDescriptor.Parse(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_candidate_with_a_bad_port_naming_its_index()
    {
        string json = Sample().ToJson().Replace("\"port\":40000", "\"port\":70000", StringComparison.Ordinal);
        FormatException e = Assert.Throws<FormatException>(() => LinkDescriptor.Parse(json));
        Assert.Contains("candidates[0].port", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ignores_unknown_fields() =>
        Assert.Equal(Key, LinkDescriptor.Parse(Sample().ToJson().Insert(1, "\"future\":{\"x\":1},")).Key);

    [Fact]
    public void Host_candidates_outrank_reflexive_and_relayed()
    {
        Assert.True(Candidate.ComputePriority(CandidateType.Host, 0) > Candidate.ComputePriority(CandidateType.PeerReflexive, 65535));
        Assert.True(Candidate.ComputePriority(CandidateType.PeerReflexive, 0) > Candidate.ComputePriority(CandidateType.ServerReflexive, 65535));
        Assert.True(Candidate.ComputePriority(CandidateType.ServerReflexive, 0) > Candidate.ComputePriority(CandidateType.Relayed, 65535));
    }
}
