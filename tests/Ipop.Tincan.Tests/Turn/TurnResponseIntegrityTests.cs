using System.Net;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Tests.Stun;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.Turn;

/// <summary>
/// RFC 8489 section 9.2.5 against an attacker who sees our requests to the TURN server but does not know the password
/// (issue 13): its answers, success or error, on every method, are discarded and counted, and the genuine answer that
/// follows is the one used. 401 and 438 cannot be signed, so they are accepted, but cannot kill the allocation.
/// </summary>
public sealed class TurnResponseIntegrityTests : IDisposable
{
    private static readonly IPEndPoint Elsewhere = new(IPAddress.Parse("198.18.0.66"), 1);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly FakeTurnServer _server = new();
    private readonly TestLogger _logger = new();
    private readonly StunTransactionTable _table;
    private readonly TurnClient _client;

    public TurnResponseIntegrityTests()
    {
        _table = new StunTransactionTable(_server, _time, _logger, new StunRetransmissionPolicy(TimeSpan.FromMilliseconds(100), 3, 2));
        var demux = new TurnDemultiplexer(_table);
        _server.Demultiplexer = demux;
        _client = new TurnClient(_table, demux, TurnTimings.Default, _logger);
    }

    private static TurnServerEndpoint Endpoint => new(StunServerEndpoint.FromEndPoint(FakeTurnServer.Address), new TurnCredentials("u", "p"));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _table.Dispose();

    private async Task AdvanceAsync(TimeSpan by, Func<bool> until)
    {
        _time.Advance(by);
        for (int i = 0; i < 200 && !until(); i++)
        {
            await Task.Delay(5, Token);
        }
    }

    // An answer its forger could make: right method and transaction id, no MESSAGE-INTEGRITY (or one with a guessed key).
    private static byte[] Forged(StunMethod method, StunTransactionId id, int? errorCode = null, string? realm = null, string? nonce = null, byte[]? guessedKey = null)
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, method, errorCode is null ? StunMessageClass.SuccessResponse : StunMessageClass.ErrorResponse, id);
        if (errorCode is int code)
        {
            writer.AppendErrorCode(code, "Forged");
        }
        else if (method == StunMethod.Allocate)
        {
            writer.AppendXorAddress(StunAttributeType.XorRelayedAddress, Elsewhere);
            writer.AppendXorAddress(StunAttributeType.XorMappedAddress, Elsewhere);
            writer.AppendUInt32(StunAttributeType.Lifetime, 3600);
        }

        if (realm is not null)
        {
            writer.AppendString(StunAttributeType.Realm, realm);
        }

        if (nonce is not null)
        {
            writer.AppendString(StunAttributeType.Nonce, nonce);
        }

        if (guessedKey is not null)
        {
            writer.AppendMessageIntegrity(guessedKey);
        }

        writer.AppendFingerprint();
        return buffer[..writer.Length];
    }

    [Fact]
    public async Task Forged_errors_to_every_method_are_discarded_and_the_genuine_answers_are_used()
    {
        byte[] wrongKey = StunCredentialKeys.LongTerm("u", "fake.test", "guess");
        _server.Forger = (method, id) => method switch
        {
            StunMethod.Allocate => Forged(method, id, StunErrorCodes.AllocationQuotaReached),
            StunMethod.CreatePermission => Forged(method, id, 403),
            StunMethod.ChannelBind => Forged(method, id, 400, guessedKey: wrongKey),
            StunMethod.Refresh => Forged(method, id, StunErrorCodes.AllocationMismatch),
            _ => null,
        };

        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint, Token);
        await allocation.CreatePermissionAsync(IPAddress.Parse("198.18.0.7"), Token);
        TurnChannel channel = await allocation.BindChannelAsync(new IPEndPoint(IPAddress.Parse("198.18.0.8"), 4000), Token);
        await allocation.RefreshAsync(Token);

        Assert.Equal(FakeTurnServer.Relayed, allocation.RelayedAddress);
        Assert.Equal(TurnAllocationState.Active, allocation.State);
        Assert.Equal(1, allocation.Refreshes);
        Assert.Equal(0x4000, channel.Number);
        Assert.Equal(4, allocation.UnauthenticatedResponses);
        Assert.Equal(4, _table.RejectedResponses);
        Assert.True(_logger.Contains("without a valid MESSAGE-INTEGRITY"));
    }

    [Fact]
    public async Task A_forged_success_to_allocate_does_not_give_us_its_relayed_address()
    {
        _server.Forger = (method, id) => method == StunMethod.Allocate ? Forged(method, id) : null;

        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint, Token);

        Assert.Equal(FakeTurnServer.Relayed, allocation.RelayedAddress);
        Assert.Equal(FakeTurnServer.ClientMapped, allocation.MappedAddress);
        Assert.Equal(TimeSpan.FromSeconds(600), allocation.Lifetime);
        Assert.Equal(1, allocation.UnauthenticatedResponses);
    }

    [Fact]
    public async Task A_forged_437_to_a_scheduled_refresh_is_discarded_and_the_genuine_answer_refreshes()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint, Token);
        _server.Forger = (method, id) => method == StunMethod.Refresh ? Forged(method, id, StunErrorCodes.AllocationMismatch) : null;

        await AdvanceAsync(TimeSpan.FromSeconds(541), () => allocation.Refreshes == 1);

        Assert.Equal(1, allocation.Refreshes);
        Assert.Equal(TurnAllocationState.Active, allocation.State);
        Assert.Equal(1, allocation.UnauthenticatedResponses);
        Assert.False(_logger.Contains("is lost"));
    }

    [Fact]
    public async Task A_forged_401_to_a_refresh_does_not_kill_the_allocation()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint, Token);
        string? lost = null;
        allocation.Failed += (_, why) => lost = why;

        // A 401 cannot be signed, so it is accepted and overtakes the genuine answer: the refresh fails ...
        _server.Forger = (method, id) => method == StunMethod.Refresh ? Forged(method, id, StunErrorCodes.Unauthorized, _server.Realm, _server.Nonce) : null;
        await AdvanceAsync(TimeSpan.FromSeconds(541), () => _logger.Contains("refreshing allocation failed"));
        Assert.True(_logger.Contains("refreshing allocation failed"), "the forged 401 was taken as the answer");
        Assert.Equal(TurnAllocationState.Active, allocation.State);

        // ... and is retried, which works once the forger is gone: the allocation lives.
        _server.Forger = null;
        await AdvanceAsync(TimeSpan.FromSeconds(6), () => allocation.Refreshes == 1);
        Assert.Equal(1, allocation.Refreshes);
        Assert.Equal(TurnAllocationState.Active, allocation.State);
        Assert.Null(lost);
    }

    [Fact]
    public async Task A_forged_401_naming_another_realm_does_not_change_our_key()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint, Token);
        int forged = 0;
        _server.Forger = (method, id) => method == StunMethod.Refresh && Interlocked.Increment(ref forged) == 1
            ? Forged(method, id, StunErrorCodes.Unauthorized, "evil.test", "evil-nonce")
            : null;

        // The forged nonce costs one retry (the server answers 438 with its own); the realm, and so the key, stay.
        await AdvanceAsync(TimeSpan.FromSeconds(541), () => allocation.Refreshes == 1);

        Assert.Equal(1, allocation.Refreshes);
        Assert.Equal("fake.test", allocation.Realm);
        Assert.False(_logger.Contains("refreshing allocation failed"));
    }

    [Fact]
    public async Task A_forged_438_with_a_bogus_nonce_costs_a_retry_not_the_refresh()
    {
        await using TurnAllocation allocation = await _client.AllocateAsync(Endpoint, Token);
        _server.Forger = (method, id) => method == StunMethod.Refresh ? Forged(method, id, StunErrorCodes.StaleNonce, _server.Realm, "bogus-nonce") : null;

        // Every Refresh (and each retry) is answered first by the forger; the retries are bounded, the failure is
        // not fatal, and the allocation is refreshed once the forger stops.
        await AdvanceAsync(TimeSpan.FromSeconds(541), () => _logger.Contains("refreshing allocation failed"));
        Assert.Equal(TurnAllocationState.Active, allocation.State);
        _server.Forger = null;
        await AdvanceAsync(TimeSpan.FromSeconds(6), () => allocation.Refreshes == 1);
        Assert.Equal(1, allocation.Refreshes);
        Assert.Equal(TurnAllocationState.Active, allocation.State);
    }
}
