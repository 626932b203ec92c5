using System.Net;
using System.Net.Sockets;
using Ipop.Lab.Servers;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.Tests.Turn;

/// <summary>Our STUN/TURN client against a real coturn on 127.0.0.1 (each test its own server and sockets).</summary>
public sealed class CoturnInteropTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(15);

    private static TurnServerEndpoint ServerFor(CoturnServer coturn, string user = "u", string password = "p") =>
        new(StunServerEndpoint.FromEndPoint(coturn.EndPoint), new TurnCredentials(user, password));

    private static CancellationToken Timeout()
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        source.CancelAfter(TestTimeout);
        return source.Token;
    }

    [Fact]
    public async Task Binding_request_to_coturn_returns_our_loopback_mapping()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create();

        IReadOnlyList<StunBindingResult> results = await rig.Binding.GetServerReflexiveAsync([StunServerEndpoint.FromEndPoint(coturn.EndPoint)], cancellationToken: Timeout());

        StunBindingResult result = Assert.Single(results);
        Assert.Equal(rig.Transport.LocalEndPoint, result.Mapped);
    }

    [Fact]
    public async Task A_dual_mode_socket_reaches_an_IPv4_server_and_matches_its_mapped_form_answers()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using var transport = new UdpStunTransport(new IPEndPoint(IPAddress.IPv6Any, 0));
        using var table = new StunTransactionTable(transport, TimeProvider.System, policy: TurnRig.FastPolicy);
        var demux = new TurnDemultiplexer(table);
        transport.Start(demux);
        var client = new TurnClient(table, demux, new TurnTimings { Retransmission = TurnRig.FastPolicy });

        await using TurnAllocation allocation = await client.AllocateAsync(ServerFor(coturn), Timeout());

        Assert.Equal(IPAddress.Loopback, allocation.MappedAddress.Address);
        Assert.Equal(transport.LocalEndPoint.Port, allocation.MappedAddress.Port);
    }

    [Fact]
    public async Task Allocate_with_right_credentials_gives_a_relayed_address_in_the_relay_range()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create();

        await using TurnAllocation allocation = await rig.Client.AllocateAsync([ServerFor(coturn)], Timeout());

        Assert.Equal(TurnAllocationState.Active, allocation.State);
        Assert.Equal(IPAddress.Loopback, allocation.RelayedAddress.Address);
        Assert.InRange(allocation.RelayedAddress.Port, coturn.MinRelayPort, coturn.MaxRelayPort);
        Assert.Equal(rig.Transport.LocalEndPoint, allocation.MappedAddress);
        Assert.Equal("lab.test", allocation.Realm);
        Assert.True(allocation.Lifetime > TimeSpan.Zero);
    }

    [Fact]
    public async Task Wrong_password_fails_with_an_authentication_error_naming_server_and_realm_but_not_the_password()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create();

        var error = await Assert.ThrowsAsync<TurnAuthenticationException>(() => rig.Client.AllocateAsync([ServerFor(coturn, password: "s3cret-wrong")], Timeout()));

        Assert.Contains(coturn.EndPoint.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("lab.test", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-wrong", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(rig.Logger.Messages, m => m.Contains("s3cret-wrong", StringComparison.Ordinal));
        Assert.True(rig.Logger.Contains("unusable"));
    }

    [Fact]
    public async Task Rest_secret_credentials_allocate_and_a_wrong_secret_is_refused()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(new CoturnOptions { StaticAuthSecret = "lab-secret" }, Timeout());
        await using TurnRig rig = TurnRig.Create();
        var endpoint = StunServerEndpoint.FromEndPoint(coturn.EndPoint);
        DateTimeOffset expiry = DateTimeOffset.UtcNow.AddHours(1);

        await using (TurnAllocation allocation = await rig.Client.AllocateAsync(new TurnServerEndpoint(endpoint, TurnCredentials.FromSharedSecret("lab-secret", "node1", expiry)), Timeout()))
        {
            Assert.Equal(TurnAllocationState.Active, allocation.State);
        }

        await using TurnRig other = TurnRig.Create();
        await Assert.ThrowsAsync<TurnAuthenticationException>(() =>
            other.Client.AllocateAsync([new TurnServerEndpoint(endpoint, TurnCredentials.FromSharedSecret("not-the-secret", "node1", expiry))], Timeout()));

        await using TurnRig expired = TurnRig.Create();
        await Assert.ThrowsAsync<TurnAuthenticationException>(() =>
            expired.Client.AllocateAsync([new TurnServerEndpoint(endpoint, TurnCredentials.FromSharedSecret("lab-secret", "node1", DateTimeOffset.UtcNow.AddMinutes(-5)))], Timeout()));
    }

    [Fact]
    public async Task Channel_data_goes_client_to_relay_to_peer_and_back()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerEndPoint = (IPEndPoint)peer.LocalEndPoint!;
        var received = new TaskCompletionSource<(IPEndPoint Peer, byte[] Payload)>(TaskCreationOptions.RunContinuationsAsynchronously);

        await using TurnAllocation allocation = await rig.Client.AllocateAsync([ServerFor(coturn)], Timeout());
        allocation.DataReceived = (_, from, payload) => received.TrySetResult((from, payload.ToArray()));
        TurnChannel channel = await allocation.BindChannelAsync(peerEndPoint, Timeout());
        Assert.InRange(channel.Number, ChannelData.MinChannel, ChannelData.MaxChannel);

        // Client -> relay -> peer: the payload sits after 4 bytes of headroom; the header is written in place.
        byte[] buffer = new byte[4 + 5];
        "hello"u8.CopyTo(buffer.AsSpan(4));
        Assert.True(channel.Send(buffer));
        byte[] peerBuffer = new byte[1500];
        SocketReceiveFromResult atPeer = await peer.ReceiveFromAsync(peerBuffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), Timeout());
        Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(peerBuffer, 0, atPeer.ReceivedBytes));
        Assert.Equal(allocation.RelayedAddress, atPeer.RemoteEndPoint);

        // Peer -> relay -> client arrives as ChannelData on the bound channel.
        await peer.SendToAsync("world"u8.ToArray(), SocketFlags.None, allocation.RelayedAddress, Timeout());
        (IPEndPoint from, byte[] payload) = await received.Task.WaitAsync(Timeout());
        Assert.Equal(peerEndPoint, from);
        Assert.Equal("world", System.Text.Encoding.ASCII.GetString(payload));
        Assert.Equal(1, allocation.ChannelDataReceived);
        Assert.Equal(0, allocation.DroppedDatagrams);
    }

    [Fact]
    public async Task Peer_data_with_only_a_permission_arrives_as_a_data_indication()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var received = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);

        await using TurnAllocation allocation = await rig.Client.AllocateAsync([ServerFor(coturn)], Timeout());
        allocation.DataReceived = (_, from, payload) => received.TrySetResult(payload.ToArray());
        await allocation.CreatePermissionAsync(IPAddress.Loopback, Timeout());
        await peer.SendToAsync("indicated"u8.ToArray(), SocketFlags.None, allocation.RelayedAddress, Timeout());

        byte[] payload = await received.Task.WaitAsync(Timeout());
        Assert.Equal("indicated", System.Text.Encoding.ASCII.GetString(payload));
        Assert.Equal(1, allocation.DataIndicationsReceived);
    }

    [Fact]
    public async Task Refresh_extends_the_allocation_and_dispose_deallocates_so_the_same_socket_can_allocate_again()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create(new TurnTimings { Retransmission = TurnRig.FastPolicy, RequestedLifetime = TimeSpan.FromSeconds(300) });

        TurnAllocation first = await rig.Client.AllocateAsync([ServerFor(coturn)], Timeout());
        DateTimeOffset before = first.ExpiresAt;
        await Task.Delay(1100, Timeout());
        await first.RefreshAsync(Timeout());
        Assert.True(first.ExpiresAt > before, $"expiry {first.ExpiresAt:O} should be after {before:O}");
        await first.DisposeAsync();
        Assert.Equal(TurnAllocationState.Closed, first.State);

        // Without the Refresh(LIFETIME=0) the server answers 437 Allocation Mismatch for this 5-tuple for
        // the whole lifetime (600 s); after it, coturn frees the 5-tuple within about a second.
        TurnAllocation? second = null;
        for (int attempt = 0; attempt < 20 && second is null; attempt++)
        {
            try
            {
                second = await rig.Client.AllocateAsync(ServerFor(coturn), Timeout());
            }
            catch (TurnAllocationException ex) when (ex.ErrorCode == StunErrorCodes.AllocationMismatch)
            {
                await Task.Delay(250, Timeout());
            }
        }

        Assert.NotNull(second);
        await second.DisposeAsync();
    }

    [Fact]
    public async Task Scheduled_refreshes_of_allocation_and_channel_run_against_coturn_and_data_still_flows()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        // coturn grants at least 600 s, so make the margin 599 s: the allocation refreshes about every second.
        await using TurnRig rig = TurnRig.Create(new TurnTimings
        {
            Retransmission = TurnRig.FastPolicy,
            RefreshMargin = TimeSpan.FromSeconds(599),
            ChannelRefreshInterval = TimeSpan.FromSeconds(1),
        });
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using TurnAllocation allocation = await rig.Client.AllocateAsync([ServerFor(coturn)], Timeout());
        TurnChannel channel = await allocation.BindChannelAsync((IPEndPoint)peer.LocalEndPoint!, Timeout());

        for (int i = 0; i < 60 && (allocation.Refreshes < 2 || allocation.ChannelRefreshes < 2); i++)
        {
            await Task.Delay(100, Timeout());
        }

        Assert.True(allocation.Refreshes >= 2, $"refreshes: {allocation.Refreshes}\n{string.Join("\n", rig.Logger.Messages)}");
        Assert.True(allocation.ChannelRefreshes >= 2, $"channel refreshes: {allocation.ChannelRefreshes}");
        Assert.Equal(TurnAllocationState.Active, allocation.State);
        byte[] buffer = new byte[4 + 3];
        "abc"u8.CopyTo(buffer.AsSpan(4));
        Assert.True(channel.Send(buffer));
        byte[] peerBuffer = new byte[64];
        SocketReceiveFromResult atPeer = await peer.ReceiveFromAsync(peerBuffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), Timeout());
        Assert.Equal(3, atPeer.ReceivedBytes);
    }

    [Fact]
    public async Task A_dead_first_server_is_skipped_with_a_log_line_and_the_second_is_used()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        await using TurnRig rig = TurnRig.Create();
        int unused = CoturnServer.FindFreeUdpPort(IPAddress.Loopback);
        var dead = new TurnServerEndpoint(new StunServerEndpoint("127.0.0.1", unused), new TurnCredentials("u", "p"));

        await using TurnAllocation allocation = await rig.Client.AllocateAsync([dead, ServerFor(coturn)], Timeout());

        Assert.Equal(coturn.EndPoint, allocation.ServerAddress);
        Assert.True(rig.Logger.Contains($"127.0.0.1:{unused} unusable"), string.Join("\n", rig.Logger.Messages));
    }

    [Fact]
    public async Task A_server_answering_garbage_is_logged_and_skipped_without_crashing()
    {
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: Timeout());
        using var garbage = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        garbage.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        Task answering = AnswerWithGarbageAsync(garbage, stop.Token);
        await using TurnRig rig = TurnRig.Create();
        var bogus = new TurnServerEndpoint(StunServerEndpoint.FromEndPoint((IPEndPoint)garbage.LocalEndPoint!), new TurnCredentials("u", "p"));

        await using TurnAllocation allocation = await rig.Client.AllocateAsync([bogus, ServerFor(coturn)], Timeout());
        await stop.CancelAsync();
        await answering;

        Assert.Equal(coturn.EndPoint, allocation.ServerAddress);
        Assert.True(rig.Transactions.MalformedResponses > 0);
        Assert.Equal(0, rig.Transport.HandlerFailures);
        Assert.True(rig.Logger.Contains("not a valid STUN response"), string.Join("\n", rig.Logger.Messages));
    }

    private static async Task AnswerWithGarbageAsync(Socket socket, CancellationToken token)
    {
        byte[] buffer = new byte[2048];
        var random = new Random(42);
        try
        {
            for (int i = 0; i < 100 && !token.IsCancellationRequested; i++)
            {
                SocketReceiveFromResult request = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), token);
                // Mutate the request: keeps the STUN look (first byte, cookie, transaction id) but breaks the rest.
                byte[] reply = buffer.AsSpan(0, request.ReceivedBytes).ToArray();
                reply[0] = 0x01;
                reply[1] = 0x13;
                for (int k = 20; k < reply.Length; k++)
                {
                    reply[k] = (byte)random.Next(256);
                }

                await socket.SendToAsync(reply, SocketFlags.None, request.RemoteEndPoint, token);
                byte[] noise = new byte[random.Next(1, 64)];
                random.NextBytes(noise);
                await socket.SendToAsync(noise, SocketFlags.None, request.RemoteEndPoint, token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
