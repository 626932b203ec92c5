using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Turn;

/// <summary>
/// One allocation on one TURN server (RFC 8656): the long-term-credential dance (section 7.1 with RFC 8489
/// section 9.2), permissions, channel bindings, refreshes before anything expires, and deallocation on
/// dispose. It never owns a socket: requests go through the shared <see cref="StunTransactionTable"/>,
/// data goes out through the table's <see cref="IDatagramSender"/> to <see cref="ServerSocketAddress"/> (converted
/// once, at creation), and the socket's receive loop hands datagrams from the server to it through the
/// <see cref="TurnDemultiplexer"/>.
/// </summary>
/// <remarks>
/// Split by concern: this file creates the allocation, its permissions and channels and sends to the server;
/// <c>.Receive.cs</c> handles what the server sends; <c>.Requests.cs</c> authenticates requests;
/// <c>.Maintenance.cs</c> refreshes everything before it expires.
/// </remarks>
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
    private long _unauthenticated;
    private bool _allocated;
    private long _refreshes;
    private long _channelRefreshes;
    private long _permissionRefreshes;

    private TurnAllocation(TurnServerEndpoint server, IPEndPoint serverAddress, SocketAddress serverSocketAddress, StunTransactionTable transactions, TurnTimings timings, ILogger logger)
    {
        Server = server;
        ServerAddress = serverAddress;
        ServerSocketAddress = serverSocketAddress;
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

    /// <summary>
    /// The server's address in the shared socket's own form (<see cref="IDatagramSender.ToSocketAddress"/>), made
    /// once: every datagram to the server goes there, and the node's receive path matches the server with it.
    /// </summary>
    public SocketAddress ServerSocketAddress { get; }

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

    /// <summary>
    /// Answers to our authenticated requests discarded for lacking a valid MESSAGE-INTEGRITY (RFC 8489 section 9.2.5):
    /// forged, or from someone who does not know the password.
    /// </summary>
    public long UnauthenticatedResponses => Interlocked.Read(ref _unauthenticated);

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
        SocketAddress serverSocketAddress = transactions.Sender.ToSocketAddress(serverAddress)
            ?? throw new TurnAllocationException($"TURN server {server} resolved to {serverAddress}, which the socket cannot reach (address family)");
        var allocation = new TurnAllocation(server, serverAddress, serverSocketAddress, transactions, timings, logger);
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
        _allocated = true;
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

    /// <summary>
    /// Sends a datagram to the server (ChannelData, a Send indication, a keepalive): to the socket address made at
    /// creation, so the relay's data path does no lookup and allocates nothing.
    /// </summary>
    internal bool SendRaw(ReadOnlySpan<byte> datagram) => _transactions.Sender.Send(datagram, ServerSocketAddress);

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

    [LoggerMessage(EventId = 1207, Level = LogLevel.Debug, Message = "TURN allocation {Relayed} on {Server} released")]
    private static partial void LogDeallocated(ILogger logger, TurnServerEndpoint server, IPEndPoint relayed);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Debug, Message = "TURN deallocation on {Server} failed: {Reason}")]
    private static partial void LogDeallocateFailed(ILogger logger, TurnServerEndpoint server, string reason);
}
