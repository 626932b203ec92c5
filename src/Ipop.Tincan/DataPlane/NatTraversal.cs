using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Runtime.InteropServices;
using Ipop.Tincan.Ice;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// STUN/TURN on the node's shared socket: gathers server-reflexive candidates (RFC 8489 Binding) and one
/// relayed candidate (RFC 8656 Allocate), answers STUN Binding requests cheaply, and feeds datagrams that come
/// through our allocation into the Ipop receive path marked as relayed (<see cref="RelayedPath"/>).
/// </summary>
/// <remarks>
/// Receive side: the socket hands first bytes 0-3 (STUN) and 64-79 (ChannelData, RFC 7983) to
/// <see cref="OnDatagram"/>; the <see cref="TurnDemultiplexer"/> routes responses to the transaction table and
/// relayed data to the allocation, whose <see cref="TurnAllocation.DataReceived"/> lands in <see cref="OnRelayed"/>.
/// </remarks>
internal sealed partial class NatTraversal : IDatagramHandler, IDatagramSender, IDatagramReceiver, IAsyncDisposable
{
    /// <summary>Binding requests: 250 ms RTO, 4 sends, gives up after 2.75 s (the descriptor waits at most 3 s).</summary>
    internal static readonly StunRetransmissionPolicy BindingPolicy = new(TimeSpan.FromMilliseconds(250), 4, 4);

    /// <summary>TURN requests: 200 ms RTO, 5 sends, a dead server is skipped after 3.8 s.</summary>
    internal static readonly StunRetransmissionPolicy TurnPolicy = new(TimeSpan.FromMilliseconds(200), 5, 4);

    private static readonly TimeSpan StunGatherBound = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan TurnWaitBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SrflxRefreshAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReallocateAfter = TimeSpan.FromSeconds(5);

    // Below the common 30 s UDP mapping timeout of NATs (RFC 4787 REQ-5 asks for at least 2 min, many do less):
    // keeps the mapping toward the TURN server, so refreshes and relayed data keep arriving even with no link busy.
    private static readonly TimeSpan ServerKeepaliveInterval = TimeSpan.FromSeconds(15);

    /// <summary>Binding requests from strangers answered per second at most; the rest are dropped and counted.</summary>
    private const int BindingAnswersPerSecond = 50;

    /// <summary>Authenticated connectivity checks verified per second at most (each costs an HMAC).</summary>
    private const int CheckRequestsPerSecond = 500;

    private readonly LinkManager _manager;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly StunTransactionTable _transactions;
    private readonly TurnDemultiplexer _demux;
    private readonly StunBindingClient _binding;
    private readonly TurnClient _turn;
    private readonly IReadOnlyList<StunServerEndpoint> _stunServers;
    private readonly IReadOnlyList<TurnServerOptions> _turnServers;
    private readonly ConcurrentDictionary<IPEndPoint, RelayedPath> _relayedPaths = new();
    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _sendAddresses = new();
    private readonly LogRateLimiter _strangerLog;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gatherLock = new();
    private readonly byte[] _responseBuffer = new byte[128];
    private readonly byte[] _checkResponseBuffer = new byte[ILinkPath.Headroom + 128];

    // Our connectivity checks in flight: transaction id -> the link whose agent sent it.
    private readonly ConcurrentDictionary<StunTransactionId, TincanLink> _checks = new();
    private readonly PerSecondBudget _checkBudget;
    private readonly PerSecondBudget _answerBudget;
    private Task<IReadOnlyList<StunBindingResult>>? _srflxTask;
    private long _srflxStarted;
    private volatile Candidate[] _srflx = [];
    private volatile Task<TurnAllocation?>? _allocationTask;
    private TurnAllocation? _allocation;
    private Candidate? _relayedCandidate;
    private ITimer? _keepaliveTimer;
    private string? _turnAuthenticationFailure;

    // Receive thread only: the last source converted to an IPEndPoint (the TURN server, usually).
    private SocketAddress? _lastFrom;
    private IPEndPoint? _lastFromEndPoint;
    private long _strangerDrops;
    private long _bindingAnswers;

    public NatTraversal(LinkManager manager, UdpMux mux, TincanOptions options, ILogger logger)
    {
        _manager = manager;
        Mux = mux;
        _logger = logger;
        _time = manager.Time;
        _transactions = new StunTransactionTable(this, _time, logger, BindingPolicy);
        _demux = new TurnDemultiplexer(_transactions) { Next = this };
        _binding = new StunBindingClient(_transactions, logger) { AddressFamily = mux.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !mux.DualMode ? mux.AddressFamily : System.Net.Sockets.AddressFamily.InterNetwork };
        _turn = new TurnClient(_transactions, _demux, new TurnTimings { Retransmission = TurnPolicy }, logger) { AddressFamily = _binding.AddressFamily };
        _stunServers = [.. options.StunServers.Where(s => !string.IsNullOrWhiteSpace(s.Host)).Select(s => new StunServerEndpoint(s.Host.Trim(), s.Port))];
        _turnServers = [.. options.TurnServers.Where(s => !string.IsNullOrWhiteSpace(s.Host))];
        _strangerLog = new LogRateLimiter(_time, TimeSpan.FromSeconds(10));
        _answerBudget = new PerSecondBudget(_time, BindingAnswersPerSecond);
        _checkBudget = new PerSecondBudget(_time, CheckRequestsPerSecond);
    }

    public UdpMux Mux { get; }

    /// <summary>Our relayed candidate once an allocation succeeded.</summary>
    public Candidate? RelayedCandidate => Volatile.Read(ref _relayedCandidate);

    public TurnAllocation? Allocation => Volatile.Read(ref _allocation);

    /// <summary>Set when every configured TURN server refused our credentials: names the servers, never a password.</summary>
    public string? TurnAuthenticationFailure
    {
        get => Volatile.Read(ref _turnAuthenticationFailure);
        private set => Volatile.Write(ref _turnAuthenticationFailure, value);
    }

    /// <summary>Binding requests from peers or strangers dropped by the rate limit.</summary>
    public long StrangerDrops => Interlocked.Read(ref _strangerDrops);

    /// <summary>Binding requests answered.</summary>
    public long BindingAnswers => Interlocked.Read(ref _bindingAnswers);

    public bool HasTurnServers => _turnServers.Count > 0;

    /// <summary>
    /// Whether a relayed path in use binds a TURN channel (RFC 8656 section 12: 4 bytes of overhead instead of 36).
    /// A switch for diagnosis: with it off, relayed datagrams travel in Send/Data indications.
    /// </summary>
    public bool UseChannels { get; set; } = true;

    /// <summary>Starts gathering: Binding requests to every STUN server and an allocation on the first TURN server that works.</summary>
    public void Start()
    {
        StartSrflx();
        if (_turnServers.Count > 0)
        {
            _allocationTask = AllocateAsync();
            _keepaliveTimer = _time.CreateTimer(static state => ((NatTraversal)state!).SendServerKeepalive(), this, ServerKeepaliveInterval, ServerKeepaliveInterval);
        }
    }

    /// <summary>Server-reflexive and relayed candidates; waits at most 3 s for STUN and a bounded time for TURN.</summary>
    public async Task<ImmutableArray<Candidate>> GatherAsync(ImmutableArray<Candidate> host, CancellationToken cancellationToken)
    {
        Task<IReadOnlyList<StunBindingResult>>? srflxTask;
        lock (_gatherLock)
        {
            if (_srflxTask is { IsCompleted: true } && _time.GetElapsedTime(_srflxStarted) >= SrflxRefreshAfter)
            {
                StartSrflx();
            }

            srflxTask = _srflxTask;
        }

        if (srflxTask is not null)
        {
            await WaitBoundedAsync(srflxTask, StunGatherBound, cancellationToken).ConfigureAwait(false);
            if (srflxTask.IsCompletedSuccessfully)
            {
                UpdateSrflx(host, srflxTask.Result);
            }
        }

        if (_allocationTask is not null)
        {
            await WaitBoundedAsync(_allocationTask, TurnWaitBound, cancellationToken).ConfigureAwait(false);
        }

        ImmutableArray<Candidate>.Builder list = ImmutableArray.CreateBuilder<Candidate>();
        foreach (Candidate c in _srflx)
        {
            // RFC 8445 section 5.1.3: a server-reflexive address equal to a host address is redundant.
            if (!host.Any(h => h.EndPoint.Equals(c.EndPoint)) && host.Length + list.Count < LinkDescriptor.MaxCandidates - 1)
            {
                list.Add(c);
            }
        }

        if (RelayedCandidate is { } relayed)
        {
            list.Add(relayed);
        }

        return list.ToImmutable();
    }

    /// <summary>
    /// Installs TURN permissions for every IP among the peer's candidates (RFC 8656 section 9: per IP, ports
    /// ignored, so a symmetric NAT's fresh port per destination still passes). Fire and forget.
    /// </summary>
    public void PreparePeer(TincanLink link, ImmutableArray<Candidate> candidates)
    {
        if (_allocationTask is null || candidates.IsDefaultOrEmpty)
        {
            return;
        }

        _ = PreparePeerAsync(link, candidates);
    }

    /// <summary>The relayed path to <paramref name="peer"/> (as the relay sees it), or null without an allocation.</summary>
    public RelayedPath? RelayedPathTo(IPEndPoint peer)
    {
        TurnAllocation? allocation = Allocation;
        if (allocation is null || allocation.State != TurnAllocationState.Active || peer.AddressFamily != allocation.RelayedAddress.AddressFamily)
        {
            return null;
        }

        if (_relayedPaths.TryGetValue(peer, out RelayedPath? path) && ReferenceEquals(path.Allocation, allocation))
        {
            return path;
        }

        if (_relayedPaths.Count > 1024)
        {
            _relayedPaths.Clear();
        }

        path = new RelayedPath(this, allocation, peer);
        _relayedPaths[peer] = path;
        return path;
    }

    // Socket receive thread: STUN (0-3) and ChannelData (64-79).
    public void OnDatagram(Memory<byte> datagram, SocketAddress from)
    {
        IPEndPoint? endPoint = EndPointOf(from);
        if (endPoint is null)
        {
            _manager.Drops.Add(DropReason.Malformed);
            return;
        }

        _demux.OnDatagram(datagram.Span, endPoint);
    }

    /// <summary>An ICE check of <paramref name="link"/> went out with <paramref name="id"/>; its answer goes to that link.</summary>
    public void ExpectCheckResponse(StunTransactionId id, TincanLink link)
    {
        if (_checks.Count > 4096)
        {
            _checks.Clear();
        }

        _checks[id] = link;
    }

    public void ForgetCheck(StunTransactionId id)
    {
        if (id != default)
        {
            _checks.TryRemove(id, out _);
        }
    }

    /// <summary>Sends a check (written after <see cref="ILinkPath.Headroom"/>) from the local candidate's base.</summary>
    public void SendCheck(Span<byte> bufferWithHeadroom, Candidate local, IPEndPoint remote)
    {
        if (local.Type == CandidateType.Relayed)
        {
            RelayedPathTo(remote)?.Send(bufferWithHeadroom);
        }
        else
        {
            Send(bufferWithHeadroom[ILinkPath.Headroom..], remote);
        }
    }

    // Receive thread: a STUN message from a peer, on the socket (relay null) or through our allocation. Check
    // requests carry USERNAME (RFC 8445 section 7.2.2); answers to our checks are found by transaction id.
    // `source` is already plain IPv4 for IPv4 peers: UdpMux.ToEndPoint unmaps socket addresses, and TURN gives
    // XOR-PEER-ADDRESS in its own family.
    private bool TryHandleCheck(ReadOnlySpan<byte> datagram, in StunMessage message, IPEndPoint source, RelayedPath? relay)
    {
        if (message.Method != StunMethod.Binding)
        {
            return false;
        }

        if (message.Class is StunMessageClass.SuccessResponse or StunMessageClass.ErrorResponse)
        {
            if (_checks.TryRemove(message.TransactionId, out TincanLink? owner))
            {
                owner.OnCheckResponse(message, source);
                return true;
            }

            // A late answer to a check whose agent has finished (the link connected): expected, not worth a log.
            if (message.HasMessageIntegrity)
            {
                _manager.Drops.Add(DropReason.UnknownIndex);
                return true;
            }

            return false;
        }

        if (message.Class != StunMessageClass.Request || !message.TryGetString(StunAttributeType.Username, out string? username, 256) || username is null)
        {
            return false;
        }

        if (!_checkBudget.TryTake())
        {
            Interlocked.Increment(ref _strangerDrops);
            LogStranger(source);
            return true;
        }

        string? sender = IceAgent.SenderOf(username, _manager.CheckUsername);
        TincanLink? link = sender is null ? null : _manager.LinkByCheckUsername(sender);
        if (link is null)
        {
            // Usually a peer whose controller created its link before ours: its retransmission will find the link.
            _manager.Drops.Add(DropReason.UnknownKey);
            LogCheckFromUnknown(_logger, source, username);
            return true;
        }

        if (!message.HasMessageIntegrity || !message.VerifyMessageIntegrity(_manager.CheckKey))
        {
            _manager.Drops.Add(DropReason.AuthenticationFailed);
            if (_strangerLog.ShouldLog())
            {
                LogCheckNotAuthenticated(_logger, link.Peer.Value, source);
            }

            return true;
        }

        int length = StunBindingResponder.WriteResponse(datagram, source, _checkResponseBuffer.AsSpan(ILinkPath.Headroom), _manager.CheckKey);
        if (length > 0)
        {
            if (relay is not null)
            {
                relay.Send(_checkResponseBuffer.AsSpan(0, ILinkPath.Headroom + length));
            }
            else
            {
                Send(_checkResponseBuffer.AsSpan(ILinkPath.Headroom, length), source);
            }
        }

        _ = message.TryGetUInt32(StunAttributeType.Priority, out uint priority);
        Candidate local = relay?.LocalCandidate ?? _manager.HostBaseFor(source);
        link.OnCheckRequest(local, source, priority, message.HasAttribute(StunAttributeType.UseCandidate));
        return true;
    }

    // Demultiplexer's "not ours": not a response to our transactions, not from our TURN server.
    void IDatagramReceiver.OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (DatagramClassifier.Classify(datagram) != DatagramKind.Stun
            || StunMessage.TryParse(datagram, out StunMessage message) != StunParseError.None)
        {
            _manager.Drops.Add(DropReason.Malformed);
            LogStranger(from);
            return;
        }

        if (TryHandleCheck(datagram, message, from, relay: null))
        {
            return;
        }

        if (message.Class != StunMessageClass.Request
            || message.Method != StunMethod.Binding)
        {
            _manager.Drops.Add(DropReason.Malformed);
            LogStranger(from);
            return;
        }

        // Answering Binding requests lets a peer behind a NAT learn its mapping and keeps the pinhole warm; the
        // answer is no larger than the request plus an address, and a flood is capped per second.
        if (!_answerBudget.TryTake())
        {
            Interlocked.Increment(ref _strangerDrops);
            LogStranger(from);
            return;
        }

        int length = StunBindingResponder.WriteResponse(datagram, from, _responseBuffer);
        if (length > 0 && Send(_responseBuffer.AsSpan(0, length), from))
        {
            Interlocked.Increment(ref _bindingAnswers);
        }
    }

    public bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        if (!_sendAddresses.TryGetValue(to, out SocketAddress? address))
        {
            address = Mux.ToSocketAddress(to);
            if (address is null)
            {
                return false;
            }

            if (_sendAddresses.Count > 256)
            {
                _sendAddresses.Clear();
            }

            _sendAddresses[to] = address;
        }

        return Mux.SendTo(datagram, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_keepaliveTimer is not null)
        {
            await _keepaliveTimer.DisposeAsync().ConfigureAwait(false);
        }

        TurnAllocation? allocation = Allocation;
        if (allocation is null && _allocationTask is { } pending)
        {
            await WaitBoundedAsync(pending, TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
            allocation = pending.IsCompletedSuccessfully ? pending.Result : null;
        }

        if (allocation is not null)
        {
            // Best effort: deallocate (RFC 8656 section 8), bounded so shutdown does not hang on a dead server.
            await WaitBoundedAsync(allocation.DisposeAsync().AsTask(), TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
        }

        _transactions.Dispose();
        _stopping.Dispose();
    }

    internal void LogChannelBindFailed(IPEndPoint peer, string reason) => LogBindFailed(_logger, peer, reason);

    // Fresh for every allocation: REST-style credentials from a shared secret expire (here after a day), and a
    // replacement allocation must not reuse expired ones.
    private TurnServerEndpoint ToEndpoint(TurnServerOptions s)
    {
        var endpoint = new StunServerEndpoint(s.Host.Trim(), s.Port);
        TurnCredentials credentials = !string.IsNullOrEmpty(s.SharedSecret)
            ? TurnCredentials.FromSharedSecret(s.SharedSecret, s.Username ?? "ipop", _time.GetUtcNow().AddDays(1))
            : new TurnCredentials(string.IsNullOrEmpty(s.Username) ? "ipop" : s.Username, s.Password ?? string.Empty);
        return new TurnServerEndpoint(endpoint, credentials);
    }

    private static async Task WaitBoundedAsync(Task task, TimeSpan bound, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(bound, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Bounded: the caller uses what is there.
        }
#pragma warning disable CA1031 // The gathering tasks log their own failures; the caller only needs "done or not".
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
        }
    }

    private void StartSrflx()
    {
        if (_stunServers.Count == 0)
        {
            return;
        }

        _srflxStarted = _time.GetTimestamp();
        _srflxTask = _binding.GetServerReflexiveAsync(_stunServers, BindingPolicy, _stopping.Token);
    }

    private void UpdateSrflx(ImmutableArray<Candidate> host, IReadOnlyList<StunBindingResult> results)
    {
        ImmutableArray<Candidate>.Builder list = ImmutableArray.CreateBuilder<Candidate>();
        int preference = 65535;
        foreach (StunBindingResult r in results)
        {
            IPEndPoint mapped = r.Mapped.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(r.Mapped.Address.MapToIPv4(), r.Mapped.Port) : r.Mapped;
            if (list.Any(c => c.EndPoint.Equals(mapped)))
            {
                continue;
            }

            list.Add(new Candidate(CandidateType.ServerReflexive, mapped, Candidate.ComputePriority(CandidateType.ServerReflexive, preference), "srflx" + list.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Server.ToString()));
            preference = Math.Max(0, preference - 1);
        }

        _ = host;
        _srflx = [.. list];
    }

    private async Task<TurnAllocation?> AllocateAsync()
    {
        try
        {
            TurnAllocation allocation = await _turn.AllocateAsync([.. _turnServers.Select(ToEndpoint)], _stopping.Token).ConfigureAwait(false);
            allocation.DataReceived = OnRelayed;
            allocation.Failed += OnAllocationFailed;
            IPEndPoint relayed = allocation.RelayedAddress;
            Volatile.Write(ref _relayedCandidate, new Candidate(CandidateType.Relayed, relayed, Candidate.ComputePriority(CandidateType.Relayed, 65535), "relay0", allocation.Server.ToString()));
            Volatile.Write(ref _allocation, allocation);
            TurnAuthenticationFailure = null;
            LogRelayReady(_logger, relayed, allocation.Server);
            return allocation;
        }
        catch (TurnAuthenticationException e)
        {
            TurnAuthenticationFailure = $"every TURN server refused our credentials ({string.Join(", ", _turnServers.Select(s => new StunServerEndpoint(s.Host.Trim(), s.Port).ToString()))})";
            LogTurnAuthFailed(_logger, e.Message);
        }
        catch (OperationCanceledException)
        {
        }
#pragma warning disable CA1031 // No relay is a degraded mode, not a crash: direct paths still work.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogNoRelay(_logger, e.Message);
        }

        return null;
    }

    // A Binding indication (RFC 8489 section 6.1: no response) is the smallest STUN message a server accepts.
    private void SendServerKeepalive()
    {
        if (Allocation is not { State: TurnAllocationState.Active } allocation)
        {
            return;
        }

        Span<byte> indication = stackalloc byte[StunMessage.HeaderLength + 8];
        var writer = new StunMessageWriter(indication, StunMethod.Binding, StunMessageClass.Indication, StunTransactionId.NewRandom());
        writer.AppendFingerprint();
        allocation.SendRaw(writer.Written);
    }

    private void OnAllocationFailed(TurnAllocation allocation, string reason)
    {
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _allocation, null, allocation), allocation))
        {
            return;
        }

        Volatile.Write(ref _relayedCandidate, null);
        LogRelayLost(_logger, allocation.Server, reason);
        _demux.Unregister(allocation);
        if (!_stopping.IsCancellationRequested)
        {
            _allocationTask = ReallocateAsync();
        }
    }

    // A lost allocation (server restart, refresh refused) is replaced after a pause; the links' peers get
    // permissions on the new one. The new relayed address reaches peers with the next descriptor exchange.
    private async Task<TurnAllocation?> ReallocateAsync()
    {
        try
        {
            await Task.Delay(ReallocateAfter, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        TurnAllocation? allocation = await AllocateAsync().ConfigureAwait(false);
        if (allocation is not null)
        {
            foreach (TincanLink link in _manager.LinkSnapshot)
            {
                PreparePeer(link, link.CandidatesFromDescriptor);
            }
        }

        return allocation;
    }

    private async Task PreparePeerAsync(TincanLink link, ImmutableArray<Candidate> candidates)
    {
        try
        {
            TurnAllocation? allocation = await _allocationTask!.WaitAsync(TurnWaitBound, _stopping.Token).ConfigureAwait(false);
            if (allocation is null)
            {
                return;
            }

            foreach (IPAddress ip in candidates.Select(c => c.EndPoint.Address.IsIPv4MappedToIPv6 ? c.EndPoint.Address.MapToIPv4() : c.EndPoint.Address).Distinct())
            {
                if (ip.AddressFamily != allocation.RelayedAddress.AddressFamily)
                {
                    continue;
                }

                try
                {
                    await allocation.CreatePermissionAsync(ip, _stopping.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TurnAllocationException or TurnAuthenticationException or TimeoutException)
                {
                    LogPermissionFailed(_logger, ip, e.Message);
                }
            }

            link.OnRelayReady();
        }
#pragma warning disable CA1031 // Fire and forget: a missing permission only means that relayed path will not work.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    // Receive thread: a datagram relayed from `peer` through our allocation.
    private void OnRelayed(TurnAllocation allocation, IPEndPoint peer, ReadOnlySpan<byte> payload)
    {
        if (!payload.IsEmpty && payload[0] < 4)
        {
            // A connectivity check (or its answer) from the peer that reached us through our allocation.
            if (StunMessage.TryParse(payload, out StunMessage check) != StunParseError.None || RelayedPathTo(peer) is not { } checkPath || !TryHandleCheck(payload, check, peer, checkPath))
            {
                _manager.Drops.Add(DropReason.Malformed);
            }

            return;
        }

        if (payload.IsEmpty || payload[0] < (byte)Protocol.MessageType.HandshakeInitiation || payload[0] > (byte)Protocol.MessageType.TransportData)
        {
            _manager.Drops.Add(DropReason.UnknownType);
            return;
        }

        RelayedPath? path = RelayedPathTo(peer);
        if (path is null)
        {
            _manager.Drops.Add(DropReason.NoRoute);
            return;
        }

        // The payload lies in the socket's receive buffer (writable); the Ipop path opens transport packets in place.
        Span<byte> datagram = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(payload), payload.Length);
        _manager.OnRelayedDatagram(datagram, path);
    }

    private IPEndPoint? EndPointOf(SocketAddress from)
    {
        if (_lastFrom is not null && _lastFrom.Equals(from))
        {
            return _lastFromEndPoint;
        }

        IPEndPoint? endPoint = UdpMux.ToEndPoint(from);
        var copy = new SocketAddress(from.Family, from.Size);
        from.Buffer.Span.CopyTo(copy.Buffer.Span);
        _lastFrom = copy;
        _lastFromEndPoint = endPoint;
        return endPoint;
    }

    private void LogStranger(IPEndPoint from)
    {
        if (_strangerLog.ShouldLog())
        {
            LogStrangerDropped(_logger, from, Interlocked.Read(ref _strangerDrops) + _manager.Drops.Get(DropReason.Malformed));
        }
    }

    [LoggerMessage(EventId = 47, Level = LogLevel.Debug, Message = "Connectivity check from {From} for {Username}: no link to that peer (yet)")]
    private static partial void LogCheckFromUnknown(ILogger logger, IPEndPoint from, string username);

    [LoggerMessage(EventId = 48, Level = LogLevel.Warning, Message = "Connectivity check claiming to be from {Peer} at {From} failed MESSAGE-INTEGRITY; dropped")]
    private static partial void LogCheckNotAuthenticated(ILogger logger, string peer, IPEndPoint from);

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Relayed candidate {Relayed} on TURN server {Server}")]
    private static partial void LogRelayReady(ILogger logger, IPEndPoint relayed, TurnServerEndpoint server);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "No relayed candidate: {Reason}")]
    private static partial void LogTurnAuthFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "No relayed candidate: {Reason}")]
    private static partial void LogNoRelay(ILogger logger, string reason);

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "TURN allocation on {Server} failed: {Reason}; relayed paths are gone")]
    private static partial void LogRelayLost(ILogger logger, TurnServerEndpoint server, string reason);

    [LoggerMessage(EventId = 44, Level = LogLevel.Warning, Message = "TURN permission for {Peer} failed: {Reason}")]
    private static partial void LogPermissionFailed(ILogger logger, IPAddress peer, string reason);

    [LoggerMessage(EventId = 45, Level = LogLevel.Debug, Message = "TURN channel bind to {Peer} failed: {Reason}; sending Send indications meanwhile")]
    private static partial void LogBindFailed(ILogger logger, IPEndPoint peer, string reason);

    [LoggerMessage(EventId = 46, Level = LogLevel.Warning, Message = "Dropped unexpected STUN/ChannelData datagrams, last from {From} ({Count} so far)")]
    private static partial void LogStrangerDropped(ILogger logger, IPEndPoint from, long count);
}
