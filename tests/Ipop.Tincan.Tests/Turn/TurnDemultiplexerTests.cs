using System.Net;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.Turn;

public sealed class TurnDemultiplexerTests
{
    [Fact]
    public void Peer_traffic_and_peer_binding_requests_pass_through_to_the_next_receiver()
    {
        var time = new FakeTimeProvider();
        using var table = new StunTransactionTable(new FakeTurnServer(), time);
        var next = new RecordingReceiver();
        var demux = new TurnDemultiplexer(table) { Next = next };
        var peer = new IPEndPoint(IPAddress.Parse("127.0.0.20"), 5000);

        byte[] request = new byte[32];
        int length = StunBindingClient.WriteRequest(request, StunTransactionId.NewRandom());
        demux.OnDatagram(request.AsSpan(0, length), peer);
        demux.OnDatagram([0x80, 1, 2, 3], peer);
        demux.OnDatagram([0x41, 0, 0, 0], peer); // ChannelData-looking, but not from a TURN server

        Assert.Equal([DatagramKind.Stun, DatagramKind.Other, DatagramKind.ChannelData], next.Kinds);
    }

    [Theory]
    [InlineData(0x00, "Stun")]
    [InlineData(0x03, "Stun")]
    [InlineData(0x04, "Other")]
    [InlineData(0x3F, "Other")]
    [InlineData(0x40, "ChannelData")]
    [InlineData(0x4F, "ChannelData")]
    [InlineData(0x50, "Other")]
    [InlineData(0xFF, "Other")]
    public void First_byte_classification_follows_rfc7983(byte first, string expected) =>
        Assert.Equal(Enum.Parse<DatagramKind>(expected), DatagramClassifier.Classify([first, 0, 0, 0]));

    [Theory]
    [InlineData("stun.example.org", "stun.example.org", 3478)]
    [InlineData("stun.example.org:19302", "stun.example.org", 19302)]
    [InlineData("198.18.0.1:3479", "198.18.0.1", 3479)]
    [InlineData("[2001:2::1]:3479", "2001:2::1", 3479)]
    [InlineData("2001:2::1", "2001:2::1", 3478)]
    public void Server_endpoints_parse_host_and_port(string text, string host, int port)
    {
        StunServerEndpoint endpoint = StunServerEndpoint.Parse(text);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
    }

    private sealed class RecordingReceiver : IDatagramReceiver
    {
        public List<DatagramKind> Kinds { get; } = [];

        public void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from) => Kinds.Add(DatagramClassifier.Classify(datagram));
    }
}

public sealed class EndPointComparisonTests
{
    [Theory]
    [InlineData("127.0.0.1", 3478, "127.0.0.1", 3478, true)]
    [InlineData("127.0.0.1", 3478, "::ffff:127.0.0.1", 3478, true)]
    [InlineData("::ffff:127.0.0.1", 3478, "127.0.0.1", 3478, true)]
    [InlineData("::ffff:127.0.0.1", 3478, "127.0.0.2", 3478, false)]
    [InlineData("127.0.0.1", 3478, "127.0.0.1", 3479, false)]
    [InlineData("::1", 3478, "127.0.0.1", 3478, false)]
    [InlineData("2001:2::1", 3478, "2001:2::1", 3478, true)]
    public void IPv4_and_its_mapped_IPv6_form_are_the_same_endpoint(string a, int pa, string b, int pb, bool same) =>
        Assert.Equal(same, Ipop.Tincan.Stun.EndPointComparison.Same(new IPEndPoint(IPAddress.Parse(a), pa), new IPEndPoint(IPAddress.Parse(b), pb)));
}
