using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Turn;

/// <summary>
/// One allocation on one TURN server (RFC 8656): the long-term-credential dance (section 7.1 with RFC 8489
/// section 9.2), permissions, channel bindings, refreshes before anything expires, and deallocation on
/// dispose. It never owns a socket: requests go through the shared <see cref="StunTransactionTable"/>,
/// data goes out through the table's <see cref="IDatagramSender"/>, and the socket's receive loop hands
/// datagrams from the server to <see cref="TryHandleDatagram"/> (see <see cref="TurnDemultiplexer"/>).
/// </summary>
internal sealed partial class TurnAllocation : IAsyncDisposable
{
    private const byte ProtocolUdp = 17;
    private const int RequestBufferSize = 2048;
    private readonly StunTransactionTable _transactions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TurnTimings _timings;
    private readonly LogRateLimiter _dropLog;
    private readonly TurnChannel?[] _channelsByNumber = new TurnChannel?[ChannelData.MaxChannel - ChannelData.MinChannel + 1];
    private readonly Dictionary<IPEndPoint, TurnChannel> _channelsByPeer = [];
    private readonly Dictionary<IPAddress, DateTimeOffset> _permissions = [];
    private readonly Dictionary<ushort, DateTimeOffset> _channelRefresh = [];
    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;
    private int _nextChannel = ChannelData.MinChannel;
    private DateTimeOffset _allocationRefreshDue;
    private DateTimeOffset _expiresAt;
    private int _maintaining;
    private int _state = (int)TurnAllocationState.Active;
    private long _channelDataReceived;
    private long _indicationsReceived;
    private long _dropped;
    private long _refreshes;
    private long _channelRefreshes;
    private long _permissionRefreshes;

    private TurnAllocation(TurnServerEndpoint server, IPEndPoint serverAddress, StunTransactionTable transactions, TurnTimings timings, ILogger logger)
    {
        Server = server;
        ServerAddress = serverAddress;
        _transactions = transactions;
        _time = transactions.Time;
        _timings = timings;
        _logger = logger;
        _dropLog = new LogRateLimiter(_time, TimeSpan.FromSeconds(10));
        _timer = _time.CreateTimer(static s => ((TurnAllocation)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        RelayedAddress = MappedAddress = serverAddress;
    }

    private delegate void BodyWriter(ref StunMessageWriter writer);

    /// <summary>Raised (once) when the allocation is lost: refresh refused or expired. The string says why.</summary>
    public event Action<TurnAllocation, string>? Failed;

    public TurnServerEndpoint Server { get; }

    public IPEndPoint ServerAddress { get; }

    /// <summary>The relayed transport address: the relayed candidate to hand to peers.</summary>
    public IPEndPoint RelayedAddress { get; private set; }

    /// <summary>Our server-reflexive address as the TURN server saw it (XOR-MAPPED-ADDRESS): a free srflx candidate.</summary>
    public IPEndPoint MappedAddress { get; private set; }

    public string? Realm => _realm;

    public TimeSpan Lifetime { get; private set; }

    public TurnAllocationState State => (TurnAllocationState)Volatile.Read(ref _state);

    /// <summary>Receives relayed data (ChannelData and Data indications). Set before binding channels.</summary>
    public TurnDataHandler? DataReceived { get; set; }

    public long ChannelDataReceived => Interlocked.Read(ref _channelDataReceived);

    public long DataIndicationsReceived => Interlocked.Read(ref _indicationsReceived);

    /// <summary>Datagrams from the server we could not use (garbage, unknown channel, unexpected STUN).</summary>
    public long DroppedDatagrams => Interlocked.Read(ref _dropped);

    /// <summary>Successful allocation refreshes (scheduled or explicit).</summary>
    public long Refreshes => Interlocked.Read(ref _refreshes);

    /// <summary>Successful scheduled channel rebinds.</summary>
    public long ChannelRefreshes => Interlocked.Read(ref _channelRefreshes);

    /// <summary>Successful scheduled permission refreshes.</summary>
    public long PermissionRefreshes => Interlocked.Read(ref _permissionRefreshes);

    internal TurnDemultiplexer? Demultiplexer { get; set; }

    public DateTimeOffset ExpiresAt
    {
        get
        {
            lock (_lock)
            {
                return _expiresAt;
            }
        }
    }

    /// <summary>Allocates on <paramref name="server"/>; throws <see cref="TurnAuthenticationException"/>, <see cref="TurnAllocationException"/> or <see cref="TimeoutException"/>.</summary>
    internal static async Task<TurnAllocation> CreateAsync(
        TurnServerEndpoint server,
        IPEndPoint serverAddress,
        StunTransactionTable transactions,
        TurnTimings timings,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        var allocation = new TurnAllocation(server, serverAddress, transactions, timings, logger);
        try
        {
            await allocation.AllocateAsync(cancellationToken).ConfigureAwait(false);
            return allocation;
        }
        catch
        {
            Interlocked.Exchange(ref allocation._state, (int)TurnAllocationState.Closed);
            await allocation._timer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task AllocateAsync(CancellationToken cancellationToken)
    {
        uint requested = (uint)_timings.RequestedLifetime.TotalSeconds;
        BodyWriter body = (ref StunMessageWriter w) =>
        {
            w.AppendRequestedTransport(ProtocolUdp);
            w.AppendUInt32(StunAttributeType.Lifetime, requested);
        };

        // RFC 8656 section 7.1 / RFC 8489 section 9.2.3: the first request carries no credentials; the
        // server's 401 tells us the realm and a nonce to use.
        StunResponse response = await SendAsync(StunMethod.Allocate, body, null, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess && response.ErrorCode == StunErrorCodes.Unauthorized)
        {
            if (!TryUpdateRealmAndNonce(response) || _realm is null)
            {
                throw new TurnAllocationException($"TURN server {Server} sent 401 without REALM/NONCE", StunErrorCodes.Unauthorized);
            }

            _key = StunCredentialKeys.LongTerm(Server.Credentials.Username, _realm, Server.Credentials.Password);
            response = await SendAsync(StunMethod.Allocate, body, null, cancellationToken).ConfigureAwait(false);
        }

        if (!response.IsSuccess)
        {
            throw ErrorFor(response, "Allocate");
        }

        StunMessage view = response.View;
        if (!view.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out IPEndPoint? relayed))
        {
            throw new TurnAllocationException($"TURN server {Server} answered Allocate without XOR-RELAYED-ADDRESS");
        }

        RelayedAddress = relayed!;
        if (view.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped))
        {
            MappedAddress = mapped!;
        }

        UpdateLifetime(view.TryGetUInt32(StunAttributeType.Lifetime, out uint granted) ? granted : requested);
        LogAllocated(_logger, Server, RelayedAddress, MappedAddress, Lifetime.TotalSeconds);
        ScheduleNext();
    }

    /// <summary>Refresh (RFC 8656 section 8) with the configured lifetime; <see cref="TimeSpan.Zero"/> deallocates.</summary>
    public Task RefreshAsync(CancellationToken cancellationToken = default) =>
        RefreshAsync(_timings.RequestedLifetime, _timings.Retransmission, cancellationToken);

    private async Task RefreshAsync(TimeSpan lifetime, StunRetransmissionPolicy? policy, CancellationToken cancellationToken)
    {
        uint seconds = (uint)lifetime.TotalSeconds;
        StunResponse response = await SendAsync(
            StunMethod.Refresh,
            (ref StunMessageWriter w) => w.AppendUInt32(StunAttributeType.Lifetime, seconds),
            policy,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw ErrorFor(response, "Refresh");
        }

        if (seconds > 0)
        {
            UpdateLifetime(response.View.TryGetUInt32(StunAttributeType.Lifetime, out uint granted) ? granted : seconds);
            Interlocked.Increment(ref _refreshes);
            LogRefreshed(_logger, Server, Lifetime.TotalSeconds);
        }
    }

    /// <summary>Installs a permission for <paramref name="peer"/> (RFC 8656 section 9), refreshed until dispose.</summary>
    public async Task CreatePermissionAsync(IPAddress peer, CancellationToken cancellationToken = default)
    {
        await SendCreatePermissionAsync(peer, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _permissions[peer] = _time.GetUtcNow() + _timings.PermissionRefreshInterval;
        }

        ScheduleNext();
    }

    private async Task SendCreatePermissionAsync(IPAddress peer, CancellationToken cancellationToken)
    {
        var peerEndPoint = new IPEndPoint(peer, 0);
        StunResponse response = await SendAsync(
            StunMethod.CreatePermission,
            (ref StunMessageWriter w) => w.AppendXorAddress(StunAttributeType.XorPeerAddress, peerEndPoint),
            _timings.Retransmission,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw ErrorFor(response, $"CreatePermission for {peer}");
        }
    }

    /// <summary>
    /// Binds a channel to <paramref name="peer"/> (RFC 8656 section 12.1), which also installs the permission.
    /// Binding a peer that already has a channel returns that channel.
    /// </summary>
    public async Task<TurnChannel> BindChannelAsync(IPEndPoint peer, CancellationToken cancellationToken = default)
    {
        ushort number;
        lock (_lock)
        {
            if (_channelsByPeer.TryGetValue(peer, out TurnChannel? existing))
            {
                return existing;
            }

            if (_nextChannel > ChannelData.MaxChannel)
            {
                throw new TurnAllocationException($"All channel numbers on TURN server {Server} are in use");
            }

            number = (ushort)_nextChannel++;
        }

        // The server may relay the peer's next datagram as ChannelData the moment it has bound the channel, and
        // that datagram can overtake our handling of the success response (RFC 8656 section 12.1: be ready to
        // receive on the channel once ChannelBind is sent); so the number is known to the receive path first.
        var channel = new TurnChannel(this, number, peer);
        Volatile.Write(ref _channelsByNumber[number - ChannelData.MinChannel], channel);
        try
        {
            await SendChannelBindAsync(number, peer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.CompareExchange(ref _channelsByNumber[number - ChannelData.MinChannel], null, channel);
            throw;
        }

        lock (_lock)
        {
            if (_channelsByPeer.TryGetValue(peer, out TurnChannel? raced))
            {
                // Both numbers stay bound to the peer at the server; the receive path keeps accepting either.
                return raced;
            }

            _channelsByPeer[peer] = channel;
            _channelRefresh[number] = _time.GetUtcNow() + _timings.ChannelRefreshInterval;
        }

        LogChannelBound(_logger, Server, number, peer);
        ScheduleNext();
        return channel;
    }

    private async Task SendChannelBindAsync(ushort number, IPEndPoint peer, CancellationToken cancellationToken)
    {
        StunResponse response = await SendAsync(
            StunMethod.ChannelBind,
            (ref StunMessageWriter w) =>
            {
                w.AppendChannelNumber(number);
                w.AppendXorAddress(StunAttributeType.XorPeerAddress, peer);
            },
            _timings.Retransmission,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw ErrorFor(response, $"ChannelBind 0x{number:x4} to {peer}");
        }
    }

    public bool TryGetChannel(IPEndPoint peer, out TurnChannel? channel)
    {
        lock (_lock)
        {
            return _channelsByPeer.TryGetValue(peer, out channel);
        }
    }

    internal bool SendRaw(ReadOnlySpan<byte> datagram) => _transactions.Sender.Send(datagram, ServerAddress);

    /// <summary>
    /// Handles a datagram if it came from this allocation's server: ChannelData and Data indications are
    /// delivered to <see cref="DataReceived"/>; anything else is dropped and counted. Never throws.
    /// </summary>
    public bool TryHandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (!EndPointComparison.Same(from, ServerAddress))
        {
            return false;
        }

        switch (DatagramClassifier.Classify(datagram))
        {
            case DatagramKind.ChannelData:
                if (ChannelData.TryParse(datagram, out ushort number, out ReadOnlySpan<byte> payload)
                    && Volatile.Read(ref _channelsByNumber[number - ChannelData.MinChannel]) is { } channel)
                {
                    Interlocked.Increment(ref _channelDataReceived);
                    DataReceived?.Invoke(this, channel.Peer, payload);
                }
                else
                {
                    Drop(datagram, "malformed ChannelData or unbound channel");
                }

                break;
            case DatagramKind.Stun:
                HandleStun(datagram);
                break;
            default:
                Drop(datagram, "not STUN or ChannelData");
                break;
        }

        return true;
    }

    private void HandleStun(ReadOnlySpan<byte> datagram)
    {
        if (StunMessage.TryParse(datagram, out StunMessage message) != StunParseError.None)
        {
            Drop(datagram, "malformed STUN");
            return;
        }

        // RFC 8656 section 11.6: a Data indication carries XOR-PEER-ADDRESS and DATA.
        if (message.Class == StunMessageClass.Indication && message.Method == StunMethod.Data
            && message.TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint? peer)
            && message.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> data))
        {
            Interlocked.Increment(ref _indicationsReceived);
            DataReceived?.Invoke(this, peer!, data);
            return;
        }

        Drop(datagram, $"unexpected STUN {message.Method} {message.Class}");
    }

    private void Drop(ReadOnlySpan<byte> datagram, string reason)
    {
        Interlocked.Increment(ref _dropped);
        if (_dropLog.ShouldLog())
        {
            LogDropped(_logger, Server, datagram.Length, reason, DroppedDatagrams);
        }
    }

    private async Task<StunResponse> SendAsync(StunMethod method, BodyWriter body, StunRetransmissionPolicy? policy, CancellationToken cancellationToken)
    {
        policy ??= _timings.Retransmission;
        int retries = 0;
        byte[] buffer = new byte[RequestBufferSize];
        while (true)
        {
            byte[]? key = _key;
            int length = BuildRequest(buffer, method, body, key);
            StunResponseValidator? validator = key is null ? null : m => IsAuthentic(m, key);
            StunResponse response = await _transactions.SendRequestAsync(buffer.AsSpan(0, length), ServerAddress, policy, validator, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccess || key is null)
            {
                return response;
            }

            // RFC 8489 section 9.2.5: 438 means our nonce expired: retry with the one in the response.
            // A 401 with a fresh nonce (server restarted, nonce rotated) also earns one retry.
            string? oldNonce = _nonce;
            int code = response.ErrorCode;
            if (retries < 3 && (code == StunErrorCodes.StaleNonce || (code == StunErrorCodes.Unauthorized && retries == 0))
                && TryUpdateRealmAndNonce(response) && (code == StunErrorCodes.StaleNonce || !string.Equals(oldNonce, _nonce, StringComparison.Ordinal)))
            {
                retries++;
                if (code == StunErrorCodes.StaleNonce)
                {
                    LogStaleNonce(_logger, Server, method);
                }

                continue;
            }

            return response;
        }
    }

    /// <summary>
    /// RFC 8489 section 9.2.5: once a request carried our credentials, only 401 and 438 answers may come without
    /// MESSAGE-INTEGRITY (the server did not accept the credentials or the nonce, so it cannot sign). Any other
    /// answer without a valid one is discarded as if never received: otherwise an attacker who knows no password
    /// could hand us a relayed address, or kill the allocation with a forged 437 to a Refresh.
    /// </summary>
    private static bool IsAuthentic(StunMessage response, byte[] key)
    {
        if (response.HasMessageIntegrity)
        {
            return response.VerifyMessageIntegrity(key);
        }

        return response.Class == StunMessageClass.ErrorResponse
            && response.TryGetErrorCode(out int code, out _)
            && code is StunErrorCodes.Unauthorized or StunErrorCodes.StaleNonce;
    }

    private int BuildRequest(byte[] buffer, StunMethod method, BodyWriter body, byte[]? key)
    {
        var writer = new StunMessageWriter(buffer, method, StunMessageClass.Request, StunTransactionId.NewRandom());
        body(ref writer);
        if (key is not null)
        {
            writer.AppendString(StunAttributeType.Username, Server.Credentials.Username);
            writer.AppendString(StunAttributeType.Realm, _realm!);
            writer.AppendString(StunAttributeType.Nonce, _nonce!);
            writer.AppendMessageIntegrity(key);
        }

        writer.AppendFingerprint();
        return writer.Length;
    }

    private bool TryUpdateRealmAndNonce(StunResponse response)
    {
        StunMessage view = response.View;
        if (!view.TryGetString(StunAttributeType.Nonce, out string? nonce, maxBytes: 763) || string.IsNullOrEmpty(nonce))
        {
            return false;
        }

        if (view.TryGetString(StunAttributeType.Realm, out string? realm, maxBytes: 763) && !string.IsNullOrEmpty(realm) && !string.Equals(realm, _realm, StringComparison.Ordinal))
        {
            _realm = realm;
            if (_key is not null)
            {
                _key = StunCredentialKeys.LongTerm(Server.Credentials.Username, realm, Server.Credentials.Password);
            }
        }

        _nonce = nonce;
        return true;
    }

    private Exception ErrorFor(StunResponse response, string what)
    {
        int code = response.ErrorCode;
        string reason = response.ErrorReason;
        if (code is StunErrorCodes.Unauthorized or StunErrorCodes.WrongCredentials)
        {
            // Name the server, realm and user; never the password.
            return new TurnAuthenticationException(
                $"TURN server {Server} rejected the credentials of user '{Server.Credentials.Username}' in realm '{_realm}' ({code} {reason})",
                Server.ToString(),
                _realm);
        }

        return new TurnAllocationException($"TURN {what} on {Server} failed: {(code == 0 ? "error response without ERROR-CODE" : $"{code} {reason}")}", code);
    }

    private void UpdateLifetime(uint seconds)
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            Lifetime = TimeSpan.FromSeconds(seconds);
            _expiresAt = now + Lifetime;
            _allocationRefreshDue = now + _timings.RefreshDelay(Lifetime);
        }
    }

    private void OnTimer() => _ = MaintainAsync();

    /// <summary>Refreshes whatever is due: the allocation, channel bindings, permissions (RFC 8656 sections 8, 9.2, 12.1).</summary>
    internal async Task MaintainAsync()
    {
        if (Interlocked.Exchange(ref _maintaining, 1) == 1)
        {
            return;
        }

        try
        {
            if (State != TurnAllocationState.Active)
            {
                return;
            }

            DateTimeOffset now = _time.GetUtcNow();
            DateTimeOffset allocationDue, expiresAt;
            List<(ushort Number, IPEndPoint Peer)> channels = [];
            List<IPAddress> permissions = [];
            lock (_lock)
            {
                allocationDue = _allocationRefreshDue;
                expiresAt = _expiresAt;
                foreach (TurnChannel channel in _channelsByPeer.Values)
                {
                    if (_channelRefresh[channel.Number] <= now)
                    {
                        channels.Add((channel.Number, channel.Peer));
                    }
                }

                foreach ((IPAddress peer, DateTimeOffset due) in _permissions)
                {
                    if (due <= now)
                    {
                        permissions.Add(peer);
                    }
                }
            }

            if (now >= expiresAt)
            {
                Fail("the allocation expired before a refresh succeeded");
                return;
            }

            if (now >= allocationDue)
            {
                try
                {
                    await RefreshAsync(_timings.RequestedLifetime, _timings.Retransmission, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TurnAuthenticationException ex)
                {
                    Fail(ex.Message);
                    return;
                }
                catch (TurnAllocationException ex) when (ex.ErrorCode == StunErrorCodes.AllocationMismatch)
                {
                    Fail(ex.Message);
                    return;
                }
                catch (Exception ex) when (ex is TurnAllocationException or TimeoutException or ObjectDisposedException)
                {
                    LogRefreshFailed(_logger, Server, "allocation", ex.Message);
                    lock (_lock)
                    {
                        _allocationRefreshDue = _time.GetUtcNow() + _timings.RetryAfterFailure;
                    }
                }
            }

            foreach ((ushort number, IPEndPoint peer) in channels)
            {
                TimeSpan next = _timings.ChannelRefreshInterval;
                try
                {
                    await SendChannelBindAsync(number, peer, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref _channelRefreshes);
                }
                catch (Exception ex) when (ex is TurnAllocationException or TurnAuthenticationException or TimeoutException or ObjectDisposedException)
                {
                    LogRefreshFailed(_logger, Server, $"channel 0x{number:x4} to {peer}", ex.Message);
                    next = _timings.RetryAfterFailure;
                }

                lock (_lock)
                {
                    _channelRefresh[number] = _time.GetUtcNow() + next;
                }
            }

            foreach (IPAddress peer in permissions)
            {
                TimeSpan next = _timings.PermissionRefreshInterval;
                try
                {
                    await SendCreatePermissionAsync(peer, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref _permissionRefreshes);
                }
                catch (Exception ex) when (ex is TurnAllocationException or TurnAuthenticationException or TimeoutException or ObjectDisposedException)
                {
                    LogRefreshFailed(_logger, Server, $"permission for {peer}", ex.Message);
                    next = _timings.RetryAfterFailure;
                }

                lock (_lock)
                {
                    _permissions[peer] = _time.GetUtcNow() + next;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _maintaining, 0);
            ScheduleNext();
        }
    }

    private void ScheduleNext()
    {
        if (State != TurnAllocationState.Active)
        {
            return;
        }

        DateTimeOffset next;
        lock (_lock)
        {
            next = _allocationRefreshDue < _expiresAt ? _allocationRefreshDue : _expiresAt;
            foreach (DateTimeOffset due in _channelRefresh.Values)
            {
                next = due < next ? due : next;
            }

            foreach (DateTimeOffset due in _permissions.Values)
            {
                next = due < next ? due : next;
            }
        }

        TimeSpan delay = next - _time.GetUtcNow();
        try
        {
            _timer.Change(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: nothing left to schedule.
        }
    }

    private void Fail(string reason)
    {
        if (Interlocked.CompareExchange(ref _state, (int)TurnAllocationState.Failed, (int)TurnAllocationState.Active) != (int)TurnAllocationState.Active)
        {
            return;
        }

        _timer.Dispose();
        LogFailed(_logger, Server, RelayedAddress, reason);
        Failed?.Invoke(this, reason);
    }

    /// <summary>Deallocates (Refresh with LIFETIME 0, RFC 8656 section 8) best-effort and stops all timers.</summary>
    public async ValueTask DisposeAsync()
    {
        int previous = Interlocked.Exchange(ref _state, (int)TurnAllocationState.Closed);
        if (previous == (int)TurnAllocationState.Closed)
        {
            return;
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
        Demultiplexer?.Unregister(this);
        if (previous != (int)TurnAllocationState.Active)
        {
            return;
        }

        try
        {
            await RefreshAsync(TimeSpan.Zero, _timings.DeallocateRetransmission, CancellationToken.None).ConfigureAwait(false);
            LogDeallocated(_logger, Server, RelayedAddress);
        }
        catch (Exception ex) when (ex is TurnAllocationException or TurnAuthenticationException or TimeoutException or ObjectDisposedException or SocketException)
        {
            LogDeallocateFailed(_logger, Server, ex.Message);
        }
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "TURN server {Server} allocated relay {Relayed} (we are {Mapped}) for {Lifetime} s")]
    private static partial void LogAllocated(ILogger logger, TurnServerEndpoint server, IPEndPoint relayed, IPEndPoint mapped, double lifetime);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Debug, Message = "TURN allocation on {Server} refreshed for {Lifetime} s")]
    private static partial void LogRefreshed(ILogger logger, TurnServerEndpoint server, double lifetime);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Debug, Message = "TURN server {Server}: channel 0x{Number:x4} bound to {Peer}")]
    private static partial void LogChannelBound(ILogger logger, TurnServerEndpoint server, ushort number, IPEndPoint peer);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "TURN server {Server}: stale nonce on {Method}, retrying with the new one")]
    private static partial void LogStaleNonce(ILogger logger, TurnServerEndpoint server, StunMethod method);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "TURN server {Server}: dropped a {Length}-byte datagram ({Reason}); {Total} dropped so far")]
    private static partial void LogDropped(ILogger logger, TurnServerEndpoint server, int length, string reason, long total);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "TURN server {Server}: refreshing {What} failed: {Reason}; retrying")]
    private static partial void LogRefreshFailed(ILogger logger, TurnServerEndpoint server, string what, string reason);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Error, Message = "TURN allocation {Relayed} on {Server} is lost: {Reason}")]
    private static partial void LogFailed(ILogger logger, TurnServerEndpoint server, IPEndPoint relayed, string reason);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Debug, Message = "TURN allocation {Relayed} on {Server} released")]
    private static partial void LogDeallocated(ILogger logger, TurnServerEndpoint server, IPEndPoint relayed);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Debug, Message = "TURN deallocation on {Server} failed: {Reason}")]
    private static partial void LogDeallocateFailed(ILogger logger, TurnServerEndpoint server, string reason);
}
