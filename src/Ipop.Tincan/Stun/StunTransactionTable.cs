using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Stun;

/// <summary>
/// Outstanding STUN client transactions on one socket (RFC 8489 section 6.2): retransmits each request
/// on the <see cref="StunRetransmissionPolicy"/> schedule with timers from the injected
/// <see cref="TimeProvider"/>, and matches responses by transaction id (section 6.3.3). One table per
/// socket; the socket's receive loop calls <see cref="TryHandleResponse"/> for every STUN datagram.
/// </summary>
internal sealed partial class StunTransactionTable : IDisposable
{
    private readonly IDatagramSender _sender;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogRateLimiter _dropLog;
    private readonly Dictionary<StunTransactionId, Pending> _pending = [];
    private readonly Lock _lock = new();
    private long _unmatched;
    private long _malformed;
    private volatile int _pendingCount;
    private long _rejected;
    private bool _disposed;

    public StunTransactionTable(IDatagramSender sender, TimeProvider time, ILogger? logger = null, StunRetransmissionPolicy? policy = null)
    {
        _sender = sender;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        DefaultPolicy = policy ?? StunRetransmissionPolicy.Default;
        DefaultPolicy.Validate();
        _dropLog = new LogRateLimiter(time, TimeSpan.FromSeconds(10));
    }

    public StunRetransmissionPolicy DefaultPolicy { get; }

    public TimeProvider Time => _time;

    public IDatagramSender Sender => _sender;

    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Responses that matched no outstanding transaction (late, duplicate or spoofed).</summary>
    public long UnmatchedResponses => Interlocked.Read(ref _unmatched);

    /// <summary>Responses that matched but failed the request's validator (e.g. bad MESSAGE-INTEGRITY).</summary>
    public long RejectedResponses => Interlocked.Read(ref _rejected);

    /// <summary>
    /// Sends <paramref name="request"/> (copied) to <paramref name="to"/> and completes with the first
    /// matching response that passes <paramref name="validator"/>. Fails with <see cref="TimeoutException"/>
    /// when the schedule is exhausted.
    /// </summary>
    public Task<StunResponse> SendRequestAsync(
        ReadOnlySpan<byte> request,
        IPEndPoint to,
        StunRetransmissionPolicy? policy = null,
        StunResponseValidator? validator = null,
        CancellationToken cancellationToken = default)
    {
        if (StunMessage.TryParse(request, out StunMessage parsed) != StunParseError.None || parsed.Class != StunMessageClass.Request)
        {
            throw new ArgumentException("Not a well-formed STUN request.", nameof(request));
        }

        policy ??= DefaultPolicy;
        policy.Validate();
        var pending = new Pending(this, parsed.TransactionId, parsed.Method, request.ToArray(), to, policy, validator);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_pending.TryAdd(pending.Id, pending))
            {
                throw new InvalidOperationException($"Transaction {pending.Id} is already outstanding.");
            }

            _pendingCount = _pending.Count;
        }

        if (cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.Register(static state => ((Pending)state!).Cancel(), pending);
        }

        pending.Start();
        return pending.Completion.Task;
    }

    /// <summary>
    /// Offers a received datagram; returns true when it was a response to one of our transactions
    /// (consumed, even if a validator rejected it). Never throws.
    /// </summary>
    public bool TryHandleResponse(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (StunMessage.TryParse(datagram, out StunMessage message) != StunParseError.None)
        {
            return false;
        }

        StunMessageClass messageClass = message.Class;
        if (messageClass is not (StunMessageClass.SuccessResponse or StunMessageClass.ErrorResponse))
        {
            return false;
        }

        Pending? pending;
        lock (_lock)
        {
            _pending.TryGetValue(message.TransactionId, out pending);
        }

        if (pending is null || !EndPointComparison.Same(pending.To, from) || pending.Method != message.Method)
        {
            Interlocked.Increment(ref _unmatched);
            return pending is not null;
        }

        bool valid;
        try
        {
            valid = pending.Validator is null || pending.Validator(message);
        }
#pragma warning disable CA1031 // A validator bug must not crash the receive loop; treat as a rejected response.
        catch (Exception)
#pragma warning restore CA1031
        {
            valid = false;
        }

        if (!valid)
        {
            Interlocked.Increment(ref _rejected);
            if (_dropLog.ShouldLog())
            {
                LogRejected(_logger, message.Method, from);
            }

            return true;
        }

        if (Remove(pending))
        {
            pending.Complete(new StunResponse(datagram.ToArray(), from));
        }

        return true;
    }

    /// <summary>
    /// Called for a datagram nobody else wanted: if it comes from a server we are waiting on, it is a
    /// garbage answer, so it is dropped, counted and logged (rate-limited) instead of reaching peer
    /// handling. Cheap when nothing is outstanding. Never throws.
    /// </summary>
    public bool TryHandleUnexpected(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (_pendingCount == 0)
        {
            return false;
        }

        StunMethod? method = null;
        lock (_lock)
        {
            foreach (Pending pending in _pending.Values)
            {
                if (EndPointComparison.Same(pending.To, from))
                {
                    method = pending.Method;
                    break;
                }
            }
        }

        if (method is null)
        {
            return false;
        }

        long count = Interlocked.Increment(ref _malformed);
        if (_dropLog.ShouldLog())
        {
            LogMalformed(_logger, from, datagram.Length, method.Value, count);
        }

        return true;
    }

    /// <summary>Datagrams from a server we were waiting on that were not a valid STUN response.</summary>
    public long MalformedResponses => Interlocked.Read(ref _malformed);

    private bool Remove(Pending pending)
    {
        lock (_lock)
        {
            if (_pending.TryGetValue(pending.Id, out Pending? existing) && ReferenceEquals(existing, pending))
            {
                _pending.Remove(pending.Id);
                _pendingCount = _pending.Count;
                return true;
            }

            return false;
        }
    }

    public void Dispose()
    {
        List<Pending> all;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            all = [.. _pending.Values];
            _pending.Clear();
            _pendingCount = 0;
        }

        foreach (Pending pending in all)
        {
            pending.Fail(new ObjectDisposedException(nameof(StunTransactionTable)));
        }
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "STUN {Method} to {To}: retransmission {Count}")]
    private static partial void LogRetransmit(ILogger logger, StunMethod method, IPEndPoint to, int count);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "STUN {Method} to {To} timed out after {Count} transmissions")]
    private static partial void LogTimeout(ILogger logger, StunMethod method, IPEndPoint to, int count);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Dropped a {Method} response from {From} that failed validation (bad MESSAGE-INTEGRITY?)")]
    private static partial void LogRejected(ILogger logger, StunMethod method, IPEndPoint from);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Dropped a {Length}-byte datagram from {From} while waiting for its {Method} response: not a valid STUN response ({Count} so far)")]
    private static partial void LogMalformed(ILogger logger, IPEndPoint from, int length, StunMethod method, long count);

    private sealed class Pending(
        StunTransactionTable owner,
        StunTransactionId id,
        StunMethod method,
        byte[] request,
        IPEndPoint to,
        StunRetransmissionPolicy policy,
        StunResponseValidator? validator)
    {
        private readonly Lock _gate = new();
        private ITimer? _timer;
        private int _transmissions;
        private TimeSpan _nextInterval = policy.InitialRto;
        private bool _done;

        public StunTransactionId Id { get; } = id;

        public StunMethod Method { get; } = method;

        public IPEndPoint To { get; } = to;

        public StunResponseValidator? Validator { get; } = validator;

        public TaskCompletionSource<StunResponse> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }

        public void Start()
        {
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }

                _timer = owner._time.CreateTimer(static s => ((Pending)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }

            Transmit();
        }

        private void Transmit()
        {
            TimeSpan wait;
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }

                _transmissions++;
                if (_transmissions >= policy.MaxTransmissions)
                {
                    wait = policy.InitialRto * policy.FinalWaitMultiplier;
                }
                else
                {
                    wait = _nextInterval;
                    _nextInterval = _nextInterval * 2 > policy.MaxRto ? policy.MaxRto : _nextInterval * 2;
                }

                _timer!.Change(wait, Timeout.InfiniteTimeSpan);
            }

            // Sending outside the gate: an in-memory sender may answer synchronously.
            owner._sender.Send(request, To);
        }

        private void OnTimer()
        {
            int count;
            lock (_gate)
            {
                if (_done)
                {
                    return;
                }

                count = _transmissions;
            }

            if (count >= policy.MaxTransmissions)
            {
                LogTimeout(owner._logger, Method, To, count);
                if (owner.Remove(this))
                {
                    Fail(new TimeoutException($"STUN {Method} request to {To} got no response after {count} transmissions ({policy.TotalTimeout.TotalSeconds:0.#} s)."));
                }

                return;
            }

            LogRetransmit(owner._logger, Method, To, count);
            Transmit();
        }

        public void Cancel()
        {
            if (owner.Remove(this))
            {
                Finish();
                Completion.TrySetCanceled();
            }
        }

        public void Complete(StunResponse response)
        {
            Finish();
            Completion.TrySetResult(response);
        }

        public void Fail(Exception exception)
        {
            Finish();
            Completion.TrySetException(exception);
        }

        private void Finish()
        {
            lock (_gate)
            {
                _done = true;
                _timer?.Dispose();
            }

            Registration.Dispose();
        }
    }
}
