using System.Net;
using BenchmarkDotNet.Attributes;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Benchmarks;

/// <summary>STUN parse/verify/write and the TURN ChannelData paths: all must run without allocating.</summary>
[MemoryDiagnoser]
public class StunBenchmarks
{
    private static readonly byte[] Key = StunCredentialKeys.ShortTerm("VOkJxbRl1RmTxUk/WvJxBt");
    private readonly byte[] _request = Convert.FromHexString(
        "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff" +
        "80290008932ff9b151263b36000600096576746a3a6836765920202000080014" +
        "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf");

    private readonly byte[] _buffer = new byte[1500];
    private readonly IPEndPoint _mapped = new(IPAddress.Parse("198.18.0.7"), 40000);
    private byte[] _channelData = [];

    [GlobalSetup]
    public void Setup()
    {
        _channelData = new byte[4 + 1400];
        ChannelData.WriteHeader(_channelData, 0x4001, 1400);
    }

    [Benchmark]
    public int ParseAndReadAttributes()
    {
        _ = StunMessage.TryParse(_request, out StunMessage message);
        message.TryGetUInt32(StunAttributeType.Priority, out uint priority);
        message.TryGetAttribute(StunAttributeType.Username, out ReadOnlySpan<byte> user);
        return (int)priority + user.Length;
    }

    [Benchmark]
    public bool ParseAndVerifyIntegrityAndFingerprint()
    {
        _ = StunMessage.TryParse(_request, out StunMessage message);
        return message.VerifyFingerprint() && message.VerifyMessageIntegrity(Key);
    }

    [Benchmark]
    public int WriteBindingResponseWithIntegrity()
    {
        var writer = new StunMessageWriter(_buffer, StunMethod.Binding, StunMessageClass.SuccessResponse, new StunTransactionId(1, 2));
        writer.AppendXorAddress(StunAttributeType.XorMappedAddress, _mapped);
        writer.AppendMessageIntegrity(Key);
        writer.AppendFingerprint();
        return writer.Length;
    }

    [Benchmark]
    public int ChannelDataHeaderAndParse()
    {
        ChannelData.WriteHeader(_channelData, 0x4001, 1400);
        return ChannelData.TryParse(_channelData, out ushort channel, out ReadOnlySpan<byte> payload) ? channel + payload.Length : -1;
    }
}
