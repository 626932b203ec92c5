using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
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
/// <para>
/// Receive side: the socket hands first bytes 0-3 (STUN) and 64-79 (ChannelData, RFC 7983) to
/// <see cref="OnDatagram"/>. ChannelData from our TURN server, the relayed data path, takes one hop: the
/// <see cref="TurnDemultiplexer"/> unwraps it and the payload goes with its path to
/// <see cref="LinkManager.OnRelayedDatagram(Memory{byte}, RelayedPath)"/>. STUN goes through the demultiplexer to the transaction table
/// (responses), to the allocation (Data indications, which land in <see cref="OnDataIndication"/>), or back here
/// (connectivity checks, strangers' Binding requests).
/// </para>
/// <para>
/// Split by concern: this file gathers candidates and owns the socket side; <c>.Checks.cs</c> answers and routes
/// connectivity checks and strangers' requests; <c>.Relay.cs</c> keeps the allocation and the relayed paths.
/// </para>
/// </remarks>
internal sealed partial class NatTraversal : IDatagramHandler, IDatagramSender, IDatagramReceiver, IAsyncDisposable
{
    /// <summary>Binding requests: 250 ms RTO, 4 sends, gives up after 2.75 s (the descriptor waits at most 3 s).</summary>
    internal static readonly StunRetransmissionPolicy BindingPolicy = new(TimeSpan.FromMilliseconds(250), 4, 4);

    /// <summary>TURN requests: 200 ms RTO, 5 sends, a dead server is skipped after 3.8 s.</summary>
    internal static readonly StunRetransmissionPolicy TurnPolicy = new(TimeSpan.FromMilliseconds(200), 5, 4);

    private static readonly TimeSpan StunGatherBound = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan SrflxRefreshAfter = TimeSpan.FromSeconds(30);

    private readonly LinkManager _manager;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly StunTransactionTable _transactions;
    private readonly TurnDemultiplexer _demux;
    private readonly StunBindingClient _binding;
    private readonly IReadOnlyList<StunServerEndpoint> _stunServers;
    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _sendAddresses = new();
    private readonly LogRateLimiter _strangerLog;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gatherLock = new();
    private Task<IReadOnlyList<StunBindingResult>>? _srflxTask;
    private long _srflxStarted;
    private volatile Candidate[] _srflx = [];

    // Receive thread only: the last source converted to an IPEndPoint (the TURN server, usually).
    private SocketAddress? _lastFrom;
    private IPEndPoint? _lastFromEndPoint;

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
                UpdateSrflx(srflxTask.Result);
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

    // Socket receive thread, after a receive batch: relayed packets wait in the link manager's batched interface write.
    public void OnBatchEnd() => _manager.FlushDeliveries();

    // Socket receive thread: STUN (0-3) and ChannelData (64-79).
    public void OnDatagram(Memory<byte> datagram, SocketAddress from)
    {
        if (DatagramClassifier.Classify(datagram.Span) == DatagramKind.ChannelData && TryHandleChannelData(datagram, from))
        {
            return;
        }

        IPEndPoint? endPoint = EndPointOf(from);
        if (endPoint is null)
        {
            _manager.Drops.Add(DropReason.Malformed);
            return;
        }

        _demux.OnDatagram(datagram.Span, endPoint);
    }

    /// <summary>Control traffic (STUN and TURN requests, check answers): converted once per destination and cached.</summary>
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

    /// <summary>The relayed data path: to the TURN server's address that its allocation converted once.</summary>
    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress to) => Mux.SendTo(datagram, to);

    public SocketAddress? ToSocketAddress(IPEndPoint to) => Mux.ToSocketAddress(to);

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

    private void UpdateSrflx(IReadOnlyList<StunBindingResult> results)
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

        _srflx = [.. list];
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

    private void LogStranger(SocketAddress from)
    {
        if (_strangerLog.ShouldLog() && UdpMux.ToEndPoint(from) is { } endPoint)
        {
            LogStrangerDropped(_logger, endPoint, Interlocked.Read(ref _strangerDrops) + _manager.Drops.Get(DropReason.Malformed));
        }
    }

    [LoggerMessage(EventId = 46, Level = LogLevel.Warning, Message = "Dropped unexpected STUN/ChannelData datagrams, last from {From} ({Count} so far)")]
    private static partial void LogStrangerDropped(ILogger logger, IPEndPoint from, long count);
}
