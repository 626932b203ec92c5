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

    /// <summary>Authenticated connectivity checks verified per second at most (each costs an HMAC).</summary>
    private const int CheckRequestsPerSecond = 500;

    private readonly byte[] _responseBuffer = new byte[128];
    private readonly byte[] _checkResponseBuffer = new byte[DatagramLayout.Headroom + 128];

    // Our connectivity checks in flight: transaction id -> the link whose agent sent it.
    private readonly ConcurrentDictionary<StunTransactionId, TincanLink> _checks = new();
    private readonly PerSecondBudget _checkBudget;
    private readonly PerSecondBudget _answerBudget;
    private long _strangerDrops;
    private long _bindingAnswers;

    /// <summary>Binding requests from peers or strangers dropped by the rate limit.</summary>
    public long StrangerDrops => Interlocked.Read(ref _strangerDrops);

    /// <summary>Binding requests answered.</summary>
    public long BindingAnswers => Interlocked.Read(ref _bindingAnswers);

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

        int length = StunBindingResponder.WriteResponse(datagram, source, _checkResponseBuffer.AsSpan(DatagramLayout.Headroom), _manager.CheckKey);
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

    [LoggerMessage(EventId = 48, Level = LogLevel.Warning, Message = "Connectivity check claiming to be from {Peer} at {From} failed MESSAGE-INTEGRITY; dropped")]
    private static partial void LogCheckNotAuthenticated(ILogger logger, string peer, IPEndPoint from);
}
