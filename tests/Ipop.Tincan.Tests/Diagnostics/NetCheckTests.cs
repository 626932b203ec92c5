using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Diagnostics;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Tests.Diagnostics;

public sealed class NetCheckTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(800);

    [Fact]
    public void Mapping_rule_names_each_kind_of_nat()
    {
        var local = new HashSet<IPAddress> { IPAddress.Parse("198.18.1.2") };
        IPEndPoint s1 = IPEndPoint.Parse("198.19.0.1:3478"), s2 = IPEndPoint.Parse("198.19.0.2:3478");
        IPEndPoint m1 = IPEndPoint.Parse("198.19.9.9:40000"), m2 = IPEndPoint.Parse("198.19.9.9:40001");

        Assert.Equal(NatMapping.Unknown, NetCheckMappingRule.Classify([], 5000, local).Mapping);
        Assert.Equal(NatMapping.NoNat, NetCheckMappingRule.Classify([(s1, IPEndPoint.Parse("198.18.1.2:5000")), (s2, IPEndPoint.Parse("198.18.1.2:5000"))], 5000, local).Mapping);
        (NatMapping one, string oneDetail) = NetCheckMappingRule.Classify([(s1, m1)], 5000, local);
        Assert.Equal(NatMapping.Unknown, one);
        Assert.Contains("only one STUN server answered", oneDetail, StringComparison.Ordinal);
        Assert.Equal(NatMapping.EndpointIndependent, NetCheckMappingRule.Classify([(s1, m1), (s2, m1)], 5000, local).Mapping);
        (NatMapping symmetric, string detail) = NetCheckMappingRule.Classify([(s1, m1), (s2, m2)], 5000, local);
        Assert.Equal(NatMapping.EndpointDependent, symmetric);
        Assert.Contains("198.19.0.2:3478 saw 198.19.9.9:40001", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_servers_that_see_different_ports_mean_a_symmetric_nat()
    {
        using var a = FakeServer.Start(mappedPort: 40000);
        using var b = FakeServer.Start(mappedPort: 40001);
        var options = new TincanOptions();
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = a.Port });
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = b.Port });

        NetCheckReport report = await NetCheck.RunAsync(options, Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(NatMapping.EndpointDependent, report.Mapping);
        Assert.All(report.Servers, s => Assert.NotNull(s.RoundTrip));
        Assert.Equal(["198.19.9.9:40000", "198.19.9.9:40001"], report.Servers.Select(s => s.MappedAddress));
        Assert.Null(report.Ipv6Reachable);
    }

    [Fact]
    public async Task Servers_that_see_the_socket_itself_mean_no_nat()
    {
        using var a = FakeServer.Start(mappedPort: null);
        using var b = FakeServer.Start(mappedPort: null);
        var options = new TincanOptions();
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = a.Port });
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = b.Port });

        NetCheckReport report = await NetCheck.RunAsync(options, Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(NatMapping.NoNat, report.Mapping);
    }

    [Fact]
    public async Task A_silent_server_gets_a_one_line_error_and_the_others_still_answer()
    {
        using var live = FakeServer.Start(mappedPort: 40000);
        using var silent = FakeServer.Start(mappedPort: 40000, answer: false);
        using var turn = FakeServer.Start(mappedPort: null, turn401: true);
        var options = new TincanOptions();
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = live.Port });
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = silent.Port });
        options.TurnServers.Add(new TurnServerOptions { Host = "127.0.0.1", Port = turn.Port, Username = "u", Password = "p" });

        NetCheckReport report = await NetCheck.RunAsync(options, Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(NatMapping.Unknown, report.Mapping);
        NetCheckServer quiet = report.Servers[1];
        Assert.Null(quiet.RoundTrip);
        Assert.Equal("no answer in 0.8 s", quiet.Error);
        NetCheckServer relay = report.Servers[2];
        Assert.Equal("turn", relay.Kind);
        Assert.NotNull(relay.RoundTrip);
        Assert.Null(relay.Error);
        Assert.True(silent.Requests >= 2, $"the silent server was asked {silent.Requests} times: retransmissions expected");
    }

    [Fact]
    public async Task An_answer_from_another_address_or_transaction_is_ignored()
    {
        using var liar = FakeServer.Start(mappedPort: 40000, wrongTransaction: true);
        var options = new TincanOptions();
        options.StunServers.Add(new StunServerOptions { Host = "127.0.0.1", Port = liar.Port });

        NetCheckReport report = await NetCheck.RunAsync(options, Timeout, TestContext.Current.CancellationToken);

        Assert.Null(report.Servers[0].MappedAddress);
        Assert.Equal("no answer in 0.8 s", report.Servers[0].Error);
    }

    /// <summary>A loopback STUN/TURN responder: answers Binding with a chosen mapped port (or the real source), Allocate with 401.</summary>
    private sealed class FakeServer : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly Thread _thread;
        private int _requests;

        private FakeServer(int? mappedPort, bool answer, bool turn401, bool wrongTransaction)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _socket.ReceiveTimeout = 100;
            _thread = new Thread(() => Serve(mappedPort, answer, turn401, wrongTransaction)) { IsBackground = true };
            _thread.Start();
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

        public int Requests => Volatile.Read(ref _requests);

        public static FakeServer Start(int? mappedPort, bool answer = true, bool turn401 = false, bool wrongTransaction = false) => new(mappedPort, answer, turn401, wrongTransaction);

        public void Dispose()
        {
            _socket.Dispose();
            _thread.Join(TimeSpan.FromSeconds(2));
        }

        private void Serve(int? mappedPort, bool answer, bool turn401, bool wrongTransaction)
        {
            byte[] buffer = new byte[1500];
            byte[] reply = new byte[256];
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            for (int i = 0; i < 1000; i++)
            {
                int n;
                try
                {
                    n = _socket.ReceiveFrom(buffer, ref from);
                }
                catch (SocketException)
                {
                    continue;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                Interlocked.Increment(ref _requests);
                if (!answer || StunMessage.TryParse(buffer.AsSpan(0, n), out StunMessage request) != StunParseError.None)
                {
                    continue;
                }

                StunTransactionId id = wrongTransaction ? StunTransactionId.NewRandom() : request.TransactionId;
                var sender = (IPEndPoint)from;
                int length;
                if (turn401)
                {
                    var w = new StunMessageWriter(reply, StunMethod.Allocate, StunMessageClass.ErrorResponse, id);
                    w.AppendErrorCode(401, "Unauthorized");
                    length = w.Length;
                }
                else
                {
                    var w = new StunMessageWriter(reply, StunMethod.Binding, StunMessageClass.SuccessResponse, id);
                    w.AppendXorAddress(StunAttributeType.XorMappedAddress, mappedPort is int port ? new IPEndPoint(IPAddress.Parse("198.19.9.9"), port) : sender);
                    w.AppendFingerprint();
                    length = w.Length;
                }

                try
                {
                    _socket.SendTo(reply.AsSpan(0, length), sender);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        }
    }
}
