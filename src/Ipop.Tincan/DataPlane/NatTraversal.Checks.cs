using System.Collections.Concurrent;
using System.Net;
using Ipop.Tincan.Ice;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Connectivity checks (RFC 8445 section 7) on the shared socket and through our relay: sends them for the links'
/// agents, routes answers back by transaction id, verifies and answers requests; and strangers' Binding requests,
/// answered within a budget so a flood costs little.
/// </summary>
internal sealed partial class NatTraversal
{
    /// <summary>Binding requests from strangers answered per second at most; the rest are dropped and counted.</summary>
    private const int BindingAnswersPerSecond = 50;

    /// <summary>
    /// Authenticated connectivity checks answered per second at most (each costs an answer and a control-loop step).
    /// Only checks whose MESSAGE-INTEGRITY verified take from it: a flood of forged checks must not use up the budget
    /// of the genuine ones.
    /// </summary>
    private const int CheckRequestsPerSecond = 500;

    private readonly byte[] _responseBuffer = new byte[128];
    private readonly byte[] _checkResponseBuffer = new byte[DatagramLayout.Headroom + 128];

    // Our connectivity checks in flight: transaction id -> the link whose agent sent it, and the key its answer must carry.
    private readonly ConcurrentDictionary<StunTransactionId, (TincanLink Link, byte[] Key)> _checks = new();
    private readonly PerSecondBudget _checkBudget;
    private readonly PerSecondBudget _answerBudget;
    private LogRateLimiter? _unknownCheckLog;
    private long _strangerDrops;
    private long _bindingAnswers;

    /// <summary>Binding requests from peers or strangers dropped by the rate limit.</summary>
    public long StrangerDrops => Interlocked.Read(ref _strangerDrops);

    /// <summary>Binding requests answered.</summary>
    public long BindingAnswers => Interlocked.Read(ref _bindingAnswers);

    /// <summary>
    /// An ICE check of <paramref name="link"/> went out with <paramref name="id"/>; its answer goes to that link if it
    /// carries a MESSAGE-INTEGRITY made with <paramref name="key"/> (the link's outbound check key).
    /// </summary>
    public void ExpectCheckResponse(StunTransactionId id, TincanLink link, byte[] key)
    {
        if (_checks.Count > 4096)
        {
            _checks.Clear();
        }

        _checks[id] = (link, key);
    }

    public void ForgetCheck(StunTransactionId id)
    {
        if (id != default)
        {
            _checks.TryRemove(id, out _);
        }
    }

    /// <summary>Sends a check (written after <see cref="DatagramLayout.Headroom"/>) from the local candidate's base.</summary>
    public void SendCheck(Span<byte> bufferWithHeadroom, Candidate local, IPEndPoint remote)
    {
        if (local.Type == CandidateType.Relayed)
        {
            RelayedPathTo(remote)?.Send(bufferWithHeadroom);
        }
        else
        {
            Send(bufferWithHeadroom[DatagramLayout.Headroom..], remote);
        }
    }

    // Receive thread: a STUN message from a peer, on the socket (relay null) or through our allocation. Check
    // requests carry USERNAME (RFC 8445 section 7.2.2); answers to our checks are found by transaction id. Either is
    // accepted only if it verifies with the key of the link it names (CheckKeys), and only then does it cost budget.
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
            return TryHandleCheckResponse(message, source);
        }

        if (message.Class != StunMessageClass.Request || !message.TryGetString(StunAttributeType.Username, out string? username, 256) || username is null)
        {
            return false;
        }

        string? sender = IceAgent.SenderOf(username, _manager.CheckUsername);
        bool named = false;
        TincanLink? link = sender is null ? null : _manager.LinkForCheck(sender, message, out named);
        if (!named)
        {
            // Usually a peer whose controller created its link before ours: its retransmission will find the link.
            // Its own log limit: sharing UnknownKey's would silence the refusal of the same peer's handshakes.
            _manager.Drops.Add(DropReason.UnknownKey);
            if ((_unknownCheckLog ??= new LogRateLimiter(_time, TimeSpan.FromSeconds(10))).ShouldLog())
            {
                LogCheckFromUnknown(_logger, source, username);
            }

            return true;
        }

        if (link is null)
        {
            // RFC 8489 section 9.1.3 would answer 401; a forger learns nothing from silence, and silence costs nothing.
            _manager.Drops.Add(DropReason.CheckNotAuthenticated);
            if (_manager.Drops.ShouldLog(DropReason.CheckNotAuthenticated))
            {
                LogCheckNotAuthenticated(_logger, username, source, _manager.Drops.Get(DropReason.CheckNotAuthenticated));
            }

            return true;
        }

        if (!_checkBudget.TryTake())
        {
            Interlocked.Increment(ref _strangerDrops);
            _manager.Drops.Add(DropReason.CheckOverBudget);
            if (_manager.Drops.ShouldLog(DropReason.CheckOverBudget))
            {
                LogCheckOverBudget(_logger, link.Peer.Value, source, CheckRequestsPerSecond);
            }

            return true;
        }

        int length = StunBindingResponder.WriteResponse(datagram, source, _checkResponseBuffer.AsSpan(DatagramLayout.Headroom), link.CheckKeys!.Inbound);
        if (length > 0)
        {
            if (relay is not null)
            {
                relay.Send(_checkResponseBuffer.AsSpan(0, DatagramLayout.Headroom + length));
            }
            else
            {
                Send(_checkResponseBuffer.AsSpan(DatagramLayout.Headroom, length), source);
            }
        }

        _ = message.TryGetUInt32(StunAttributeType.Priority, out uint priority);
        Candidate local = relay?.LocalCandidate ?? _manager.HostBaseFor(source);
        link.OnCheckRequest(local, source, priority, message.HasAttribute(StunAttributeType.UseCandidate));
        return true;
    }

    // Receive thread: an answer to a check. RFC 8489 section 9.1.4: one without a valid MESSAGE-INTEGRITY is discarded as
    // if never received, and the transaction stays open for the genuine answer (a forger who saw the transaction id
    // must not fail the pair, nor consume the expectation).
    private bool TryHandleCheckResponse(in StunMessage message, IPEndPoint source)
    {
        if (!_checks.TryGetValue(message.TransactionId, out (TincanLink Link, byte[] Key) expected))
        {
            // A late answer to a check whose agent has finished (the link connected): expected, not worth a log.
            if (message.HasMessageIntegrity)
            {
                _manager.Drops.Add(DropReason.UnknownIndex);
                return true;
            }

            return false;
        }

        if (!message.VerifyMessageIntegrity(expected.Key))
        {
            _manager.Drops.Add(DropReason.CheckNotAuthenticated);
            if (_manager.Drops.ShouldLog(DropReason.CheckNotAuthenticated))
            {
                LogCheckAnswerNotAuthenticated(_logger, expected.Link.Peer.Value, source, _manager.Drops.Get(DropReason.CheckNotAuthenticated));
            }

            return true;
        }

        if (_checks.TryRemove(message.TransactionId, out _))
        {
            expected.Link.OnCheckResponse(message, source);
        }

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

    [LoggerMessage(EventId = 47, Level = LogLevel.Debug, Message = "Connectivity check from {From} for {Username}: no link to that peer (yet)")]
    private static partial void LogCheckFromUnknown(ILogger logger, IPEndPoint from, string username);

    [LoggerMessage(EventId = 48, Level = LogLevel.Warning, Message = "Connectivity check for {Username} from {From} failed MESSAGE-INTEGRITY with the key of every link it could name; dropped ({Total} so far)")]
    private static partial void LogCheckNotAuthenticated(ILogger logger, string username, IPEndPoint from, long total);

    [LoggerMessage(EventId = 1310, Level = LogLevel.Warning, Message = "Answer to a connectivity check to {Peer}, from {From}, failed MESSAGE-INTEGRITY; dropped, still waiting for the genuine one ({Total} so far)")]
    private static partial void LogCheckAnswerNotAuthenticated(ILogger logger, string peer, IPEndPoint from, long total);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Warning, Message = "Connectivity check from {Peer} at {From} over the budget of {PerSecond}/s; dropped")]
    private static partial void LogCheckOverBudget(ILogger logger, string peer, IPEndPoint from, int perSecond);
}
