using System.Net;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Tests.Stun;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.Turn;

public sealed class TurnAllocationTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly FakeTurnServer _server = new();
    private readonly TestLogger _logger = new();
    private readonly StunTransactionTable _table;
    private readonly TurnDemultiplexer _demux;
    private readonly TurnClient _client;

    public TurnAllocationTests()
    {
        _table = new StunTransactionTable(_server, _time, _logger, new StunRetransmissionPolicy(TimeSpan.FromMilliseconds(100), 3, 2));
        _demux = new TurnDemultiplexer(_table);
        _server.Demultiplexer = _demux;
        _client = new TurnClient(_table, _demux, TurnTimings.Default, _logger);
    }

    private static TurnServerEndpoint Endpoint(string password = "p") =>
        new(StunServerEndpoint.FromEndPoint(FakeTurnServer.Address), new TurnCredentials("u", password));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _table.Dispose();

    /// <summary>Advances the fake clock, then lets the continuations that the timers started run (bounded).</summary>
    private async Task AdvanceAsync(TimeSpan by, Func<bool>? until = null)
    {
        _time.Advance(by);
        for (int i = 0; i < 200 && until is not null && !until(); i++)
        {
            await Task.Delay(5, Token);
        }
    }

    [Fact]
    public async Task Allocate_retries_with_credentials_after_the_401_challenge()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);

        Assert.Equal(FakeTurnServer.Relayed, allocation.RelayedAddress);
        Assert.Equal(FakeTurnServer.ClientMapped, allocation.MappedAddress);
        Assert.Equal(TimeSpan.FromSeconds(600), allocation.Lifetime);
        Assert.Equal("fake.test", allocation.Realm);
        Assert.Equal(
            [(StunMethod.Allocate, false, null, 600u), (StunMethod.Allocate, true, "nonce-0", 600u)],
            _server.Requests.Select(r => (r.Method, r.Authenticated, r.Nonce, r.Lifetime)).ToArray());
    }

    [Fact]
    public async Task Stale_nonce_is_retried_once_with_the_new_nonce()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        _server.StaleNonceOnce = StunMethod.ChannelBind;

        TurnChannel channel = await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Loopback, 7000), Token);

        Assert.Equal(0x4000, channel.Number);
        var binds = _server.Requests.Where(r => r.Method == StunMethod.ChannelBind).ToArray();
        Assert.Equal(2, binds.Length);
        Assert.Equal("nonce-0", binds[0].Nonce);
        Assert.Equal("nonce-1", binds[1].Nonce);
    }

    [Fact]
    public async Task Wrong_password_gives_an_authentication_error_naming_server_and_realm()
    {
        var error = await Assert.ThrowsAsync<TurnAuthenticationException>(() => _client.AllocateAsync([Endpoint("hunter2")], Token));

        Assert.Contains("127.0.0.10:3478", error.Message, StringComparison.Ordinal);
        Assert.Contains("fake.test", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_logger.Messages, m => m.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Allocation_is_refreshed_a_minute_before_it_expires()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);

        await AdvanceAsync(TimeSpan.FromSeconds(539));
        Assert.Equal(0, _server.CountOf(StunMethod.Refresh));
        await AdvanceAsync(TimeSpan.FromSeconds(2), () => allocation.Refreshes == 1);
        Assert.Equal(1, allocation.Refreshes);
        Assert.Equal(_time.GetUtcNow().AddSeconds(600), allocation.ExpiresAt);

        await AdvanceAsync(TimeSpan.FromSeconds(541), () => allocation.Refreshes == 2);
        Assert.Equal(2, allocation.Refreshes);
        Assert.Equal(TurnAllocationState.Active, allocation.State);
    }

    [Fact]
    public async Task Channels_and_permissions_are_refreshed_every_four_minutes()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Loopback, 7000), Token);
        await allocation.CreatePermissionAsync(IPAddress.Parse("127.0.0.5"), Token);
        Assert.Equal(1, _server.CountOf(StunMethod.ChannelBind));
        Assert.Equal(1, _server.CountOf(StunMethod.CreatePermission));

        await AdvanceAsync(TimeSpan.FromSeconds(239));
        Assert.Equal(1, _server.CountOf(StunMethod.ChannelBind));
        await AdvanceAsync(TimeSpan.FromSeconds(2), () => allocation.ChannelRefreshes == 1 && allocation.PermissionRefreshes == 1);
        Assert.Equal(2, _server.CountOf(StunMethod.ChannelBind));
        Assert.Equal(2, _server.CountOf(StunMethod.CreatePermission));
    }

    [Fact]
    public async Task A_refresh_refused_with_437_marks_the_allocation_failed_and_says_why()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        string? reason = null;
        allocation.Failed += (_, why) => reason = why;
        _server.RefreshError = StunErrorCodes.AllocationMismatch;

        await AdvanceAsync(TimeSpan.FromSeconds(541), () => allocation.State == TurnAllocationState.Failed);

        Assert.Equal(TurnAllocationState.Failed, allocation.State);
        Assert.Contains("437", reason, StringComparison.Ordinal);
        Assert.True(_logger.Contains("is lost"));
    }

    [Fact]
    public async Task A_forged_unsigned_437_to_a_refresh_does_not_kill_the_allocation()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        _server.RefreshError = StunErrorCodes.AllocationMismatch;
        _server.Unsigned = true;

        await AdvanceAsync(TimeSpan.FromSeconds(541), () => _server.CountOf(StunMethod.Refresh) >= 1);
        Assert.True(_server.CountOf(StunMethod.Refresh) >= 1, "the refresh was sent");
        Assert.Equal(TurnAllocationState.Active, allocation.State);

        // The genuine server answers the retransmission: the allocation lives on.
        _server.RefreshError = null;
        _server.Unsigned = false;
        await AdvanceAsync(TimeSpan.FromSeconds(1), () => _server.CountOf(StunMethod.Refresh) >= 2);
        Assert.Equal(TurnAllocationState.Active, allocation.State);
        Assert.False(_logger.Contains("is lost"));
    }

    [Fact]
    public async Task An_unsigned_success_answer_to_an_authenticated_allocate_is_discarded()
    {
        _server.Unsigned = true;
        Task<TurnAllocation> allocate = _client.AllocateAsync(Endpoint(), Token);
        for (int i = 0; i < 50 && !allocate.IsCompleted; i++)
        {
            await AdvanceAsync(TimeSpan.FromSeconds(1), () => allocate.IsCompleted);
        }

        // Only the retransmissions of the authenticated request were answered, and each answer was dropped:
        // no relayed address from a server that does not know the password.
        Assert.True(allocate.IsCompleted, "the allocate did not give up");
        await Assert.ThrowsAnyAsync<Exception>(() => allocate);
        Assert.True(_server.Requests.Count(r => r.Method == StunMethod.Allocate && r.Authenticated) >= 2, "the authenticated request was retransmitted");
    }

    [Fact]
    public async Task A_refresh_that_times_out_is_retried_and_the_allocation_fails_at_expiry()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        _server.Silent = true;
        await AdvanceAsync(TimeSpan.FromSeconds(539));
        for (int i = 0; i < 120 && allocation.State == TurnAllocationState.Active; i++)
        {
            await AdvanceAsync(TimeSpan.FromSeconds(1));
            await Task.Delay(5, Token);
        }

        Assert.Equal(TurnAllocationState.Failed, allocation.State);
        Assert.True(_server.CountOf(StunMethod.Refresh) >= 2, "a failed refresh is retried");
        Assert.True(_logger.Contains("refreshing allocation failed"));
    }

    [Fact]
    public async Task Dispose_deallocates_with_lifetime_zero()
    {
        TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        await allocation.DisposeAsync();

        Assert.Equal(TurnAllocationState.Closed, allocation.State);
        var last = _server.Requests[^1];
        Assert.Equal((StunMethod.Refresh, true, 0u), (last.Method, last.Authenticated, last.Lifetime));
    }

    [Fact]
    public async Task Channel_send_writes_the_header_in_place()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        TurnChannel channel = await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Loopback, 7000), Token);
        byte[] buffer = new byte[4 + 100];
        buffer.AsSpan(4).Fill(0xAB);

        Assert.True(channel.Send(buffer));
        byte[] sent = Assert.Single(_server.ChannelDataSent);
        Assert.Equal("40000064", Convert.ToHexStringLower(sent.AsSpan(0, 4)));
        Assert.Equal(104, sent.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.Send(new byte[3]));
    }

    [Fact]
    public async Task Channel_data_goes_to_the_server_socket_address_made_once_with_no_lookup_or_allocation_per_send()
    {
        var counting = new CountingSender();
        using var table = new StunTransactionTable(counting, _time);
        TurnAllocation allocation = await AllocateWithAsync(table);
        TurnChannel channel = await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Loopback, 7000), Token);
        counting.Answer = false;
        byte[] buffer = new byte[4 + 1200];
        Assert.Equal(1, counting.ToSocketAddressCalls);
        Assert.Equal(FakeTurnServer.Address.Serialize(), allocation.ServerSocketAddress);

        channel.Send(buffer);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            channel.Send(buffer);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001, counting.ChannelDataCount);
        Assert.Same(allocation.ServerSocketAddress, counting.LastChannelDataTo);

        // The address was converted once, when the allocation was made: never per datagram, never by endpoint.
        Assert.Equal(1, counting.ToSocketAddressCalls);
        Assert.Equal(0, counting.ChannelDataToEndPoint);
    }

    [Fact]
    public async Task A_server_address_the_socket_cannot_reach_is_skipped_like_a_refusing_server()
    {
        var counting = new CountingSender { Unreachable = true };
        using var table = new StunTransactionTable(counting, _time);
        counting.Inner = new FakeTurnServer { Demultiplexer = new TurnDemultiplexer(table) };

        TurnAllocationException e = await Assert.ThrowsAsync<TurnAllocationException>(() => new TurnClient(table).AllocateAsync([Endpoint()], Token));
        Assert.Contains("cannot reach", e.Message, StringComparison.Ordinal);
        Assert.Empty(counting.Inner!.Requests);
    }

    [Fact]
    public async Task Received_channel_data_reaches_the_handler_without_allocating_and_garbage_is_counted()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        var peer = new IPEndPoint(IPAddress.Loopback, 7000);
        TurnChannel channel = await allocation.BindChannelAsync(peer, Token);
        long bytes = 0;
        IPEndPoint? seenPeer = null;
        allocation.DataReceived = (_, from, payload) =>
        {
            bytes += payload.Length;
            seenPeer = from;
        };
        byte[] datagram = new byte[4 + 50];
        ChannelData.WriteHeader(datagram, channel.Number, 50);

        _demux.OnDatagram(datagram, FakeTurnServer.Address);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            _demux.OnDatagram(datagram, FakeTurnServer.Address);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001 * 50, bytes);
        Assert.Same(peer, seenPeer);

        // Unbound channel, truncated ChannelData, random bytes: dropped, counted, logged once.
        byte[] unbound = (byte[])datagram.Clone();
        ChannelData.WriteHeader(unbound, 0x4ABC, 50);
        _demux.OnDatagram(unbound, FakeTurnServer.Address);
        _demux.OnDatagram(datagram.AsSpan(0, 10), FakeTurnServer.Address);
        _demux.OnDatagram([0xFF, 0x00, 0x13], FakeTurnServer.Address);
        Assert.Equal(3, allocation.DroppedDatagrams);
        Assert.True(_logger.Contains("dropped a"));
    }

    [Fact]
    public async Task Channel_data_from_the_server_socket_address_is_unwrapped_in_place_without_allocating()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        TurnChannel channel = await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Loopback, 7000), Token);
        byte[] datagram = new byte[4 + 50];
        ChannelData.WriteHeader(datagram, channel.Number, 50);
        SocketAddress server = FakeTurnServer.Address.Serialize();

        Assert.True(_demux.TryUnwrapChannelData(datagram, server, out TurnChannel? seen, out Span<byte> payload));
        Assert.Same(channel, seen);
        Assert.Equal(50, payload.Length);
        Assert.True(datagram.AsSpan().Overlaps(payload, out int offset));
        Assert.Equal(4, offset); // the receive buffer itself, writable: transport packets are opened in place

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            _demux.TryUnwrapChannelData(datagram, server, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001, allocation.ChannelDataReceived);

        // Not from our server: not ours. From our server on an unbound channel: ours, dropped and counted.
        Assert.False(_demux.TryUnwrapChannelData(datagram, new IPEndPoint(IPAddress.Parse("127.0.0.20"), 3478).Serialize(), out _, out _));
        ChannelData.WriteHeader(datagram, 0x4ABC, 50);
        Assert.True(_demux.TryUnwrapChannelData(datagram, server, out TurnChannel? unbound, out _));
        Assert.Null(unbound);
        Assert.Equal(1, allocation.DroppedDatagrams);
    }

    [Fact]
    public async Task Random_datagrams_from_the_server_never_escape_as_exceptions()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint(), Token);
        await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Loopback, 7000), Token);
        allocation.DataReceived = (_, _, _) => { };
        var random = new Random(1234);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] datagram = new byte[random.Next(0, 120)];
            random.NextBytes(datagram);
            if (datagram.Length > 0 && i % 3 == 0)
            {
                datagram[0] = (byte)(i % 2 == 0 ? 0x40 : 0x00);
            }

            _demux.OnDatagram(datagram, FakeTurnServer.Address);
        }

        Assert.Equal(TurnAllocationState.Active, allocation.State);
    }

    [Fact]
    public void Rest_credentials_use_expiry_colon_name_and_base64_hmac()
    {
        var credentials = TurnCredentials.FromSharedSecret("secret", "node1", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

        Assert.Equal("1700000000:node1", credentials.Username);
        Assert.Equal(28, credentials.Password.Length); // base64 of a 20-byte HMAC-SHA1
        Assert.DoesNotContain(credentials.Password, credentials.ToString(), StringComparison.Ordinal);
        Assert.NotEqual(credentials.Password, TurnCredentials.FromSharedSecret("other", "node1", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)).Password);
    }

    private static async Task<TurnAllocation> AllocateWithAsync(StunTransactionTable table)
    {
        var counting = (CountingSender)table.Sender;
        var demux = new TurnDemultiplexer(table);
        var inner = new FakeTurnServer { Demultiplexer = demux };
        counting.Inner = inner;
        return await new TurnClient(table, demux).AllocateAsync(Endpoint(), Token);
    }

    /// <summary>
    /// Counts ChannelData sends (by socket address, and by endpoint, which the relay must never use) and address
    /// conversions, without allocating; forwards requests to a fake server while <see cref="Answer"/>.
    /// </summary>
    private sealed class CountingSender : IDatagramSender
    {
        public FakeTurnServer? Inner { get; set; }

        public bool Answer { get; set; } = true;

        /// <summary>Act like an IPv4-only socket asked for a server's IPv6 address.</summary>
        public bool Unreachable { get; init; }

        public int ChannelDataCount { get; private set; }

        public int ChannelDataToEndPoint { get; private set; }

        public int ToSocketAddressCalls { get; private set; }

        public SocketAddress? LastChannelDataTo { get; private set; }

        public SocketAddress? ToSocketAddress(IPEndPoint to)
        {
            ToSocketAddressCalls++;
            return Unreachable ? null : to.Serialize();
        }

        public bool Send(ReadOnlySpan<byte> datagram, SocketAddress to)
        {
            if (datagram[0] is >= 0x40 and <= 0x4F)
            {
                ChannelDataCount++;
                LastChannelDataTo = to;
                return true;
            }

            return !Answer || Inner!.Send(datagram, to);
        }

        public bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
        {
            if (datagram[0] is >= 0x40 and <= 0x4F)
            {
                ChannelDataToEndPoint++;
                return true;
            }

            return !Answer || Inner!.Send(datagram, to);
        }
    }
}
