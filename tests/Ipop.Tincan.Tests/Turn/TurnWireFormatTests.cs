using System.Buffers.Binary;
using System.Net;
using System.Text;
using Ipop.Lab;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Tests.Stun;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.Turn;

/// <summary>Snapshots of the requests our TURN client puts on the wire (random transaction ids, MACs and CRCs masked).</summary>
public sealed class TurnWireFormatTests
{
    [Fact]
    public async Task Allocate_permission_channel_and_refresh_requests_have_the_expected_layout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var server = new FakeTurnServer();
        using var table = new StunTransactionTable(server, time, new TestLogger());
        var demux = new TurnDemultiplexer(table);
        server.Demultiplexer = demux;
        var client = new TurnClient(table, demux);
        var endpoint = new TurnServerEndpoint(StunServerEndpoint.FromEndPoint(FakeTurnServer.Address), new TurnCredentials("u", "p"));

        TurnAllocation allocation = await client.AllocateAsync(endpoint, TestContext.Current.CancellationToken);
        await allocation.CreatePermissionAsync(IPAddress.Parse("127.0.0.5"), TestContext.Current.CancellationToken);
        await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Parse("127.0.0.6"), 7000), TestContext.Current.CancellationToken);
        await allocation.DisposeAsync();

        var text = new StringBuilder();
        foreach (byte[] request in server.RawRequests)
        {
            text.AppendLine(Describe(request));
        }

        Snapshot.Verify(text.ToString());
    }

    private static string Describe(byte[] datagram)
    {
        Assert.Equal(StunParseError.None, StunMessage.TryParse(datagram, out StunMessage message));
        var line = new StringBuilder();
        line.Append($"{message.Method} {message.Class} type={message.MessageType:x4} length={datagram.Length - 20} txid=*");
        int offset = 20;
        while (offset < datagram.Length)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(offset));
            int length = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(offset + 2));
            string value = type is StunAttributeType.MessageIntegrity or StunAttributeType.Fingerprint
                ? "*"
                : Convert.ToHexStringLower(datagram.AsSpan(offset + 4, length));
            line.Append($"\n  {type:x4} len={length} {value}");
            offset += 4 + ((length + 3) & ~3);
        }

        Assert.True(message.VerifyFingerprint());
        return line.ToString();
    }
}
