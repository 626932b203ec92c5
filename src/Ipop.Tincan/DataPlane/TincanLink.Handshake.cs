using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Noise IK handshakes (WireGuard's message flow): our initiations with their retries (when: <see cref="Link.HandshakeSchedule"/>),
/// the peer's initiations and the responses to ours. Everything here runs on the control loop.
/// </summary>
internal sealed partial class TincanLink
{
    private readonly byte[] _lastSentTimestamp = new byte[Tai64N.Length];

    /// <summary>
    /// Control loop: an authenticated initiation from this link's peer (through our relay on <paramref name="relay"/>).
    /// Its timestamp is checked against the node's table (which outlives this link, and restarts when persisted)
    /// before we make an ephemeral key and do the responder's two DHs: a replay costs one DH (es) in all.
    /// </summary>
    internal void OnInitiation(NoiseIKHandshake noise, uint senderIndex, ReadOnlySpan<byte> timestamp, SocketAddress from, RelayedPath? relay)
    {
        if (_closed)
        {
            noise.Dispose();
            return;
        }

        if (!_manager.HandshakeTimestamps.TryAccept(PeerKey, timestamp, out int order))
        {
            CountDrop(DropReason.HandshakeReplay);

            // An equal timestamp is usually another copy of the initiation we just answered: the peer sends each one
            // over every candidate path and its relay. Only older ones are worth a warning.
            if (order < 0)
            {
                _manager.LogHandshakeReplay(this, from);
            }

            noise.Dispose();
            return;
        }

        _handshake.OnPeerInitiated();
        if (!PrefersInitiating)
        {
            // Both sides initiated at once: the lower key's handshake wins, ours is abandoned.
            AbandonPending();
        }

        byte[] message = new byte[ILinkPath.Headroom + HandshakeResponseMessage.Length];
        Span<byte> datagram = message.AsSpan(ILinkPath.Headroom);
        noise.WriteMessage2(ReadOnlySpan<byte>.Empty, HandshakeResponseMessage.NoiseMessage(datagram));
        Session session = CreateSession(noise, senderIndex, isInitiator: false);
        noise.Dispose();
        uint localIndex = _manager.Register(session);
        HandshakeResponseMessage.WriteHeader(datagram, localIndex, senderIndex);
        WriteMacs(datagram);

        Retire(_next);
        Volatile.Write(ref _next, session);
        ILinkPath path = ObservePath(from, relay, _manager.Time.GetTimestamp(), handshake: true);
        session.ResponseSentAt = _manager.Time.GetTimestamp();
        path.Send(message);
        _manager.LogHandshakeAccepted(this, from);
    }

    /// <summary>Control loop: a response to one of our initiations (through our relay on <paramref name="relay"/>).</summary>
    internal void OnResponse(PendingHandshake pending, uint senderIndex, ReadOnlySpan<byte> noiseMessage, SocketAddress from, RelayedPath? relay)
    {
        if (_closed || !ReferenceEquals(pending, _pending))
        {
            _manager.Drops.Add(DropReason.UnknownIndex);
            return;
        }

        if (!pending.Noise.TryReadMessage2(noiseMessage, Span<byte>.Empty, out int payloadLength) || payloadLength != 0)
        {
            // A failed read leaves the Noise state as it was, so a forged response injected on the path does not keep
            // the genuine one that follows from completing the handshake.
            CountDrop(DropReason.AuthenticationFailed);
            return;
        }

        Session session = CreateSession(pending.Noise, senderIndex, isInitiator: true);
        pending.Noise.Dispose();
        session.LocalIndex = pending.LocalIndex;
        _manager.Replace(pending, session);
        Volatile.Write(ref _pending, null);
        long now = _manager.Time.GetTimestamp();
        Volatile.Write(ref _rttTicks, now - pending.SentAt);

        // After simultaneous handshakes the peer may still send on the session it initiated (our next): keep it
        // receivable instead of dropping it, unlike WireGuard, which loses those packets.
        KeepForReceive(_next);
        Volatile.Write(ref _next, null);
        KeepForReceive(_current);

        _ = ObservePath(from, relay, now, handshake: true);
        SetCurrent(session);
        _activity.OnHandshakeCompleted(now);
        _counters.OnHandshake();
        _handshake.OnCompleted();
        StopIce();
        SetConnected();
        _manager.LogHandshakeCompleted(this, from);

        // Confirms the session to the responder at once (it may not send on it before it hears from us); packets
        // held during the handshake do the same job when there are any.
        if (!FlushStaged())
        {
            SendKeepalive();
        }
    }

    /// <summary>
    /// TURN continuation: our permissions for this peer are installed. The loop sends the pending initiation again at
    /// once rather than one retry interval later, since a copy through our relay, or the peer's answer to it, may
    /// have been refused.
    /// </summary>
    internal void OnRelayReady() => _manager.Control.Post(() =>
    {
        // Before the head start is over the timer sends the relayed copies anyway.
        if (!_closed && _handshake.RelaySprayAt == 0 && _pending is { Message.Length: > 0 } pending)
        {
            Spray(pending.Message, direct: false, relayed: true);
        }
    });

    // Control loop: a new episode of attempts, the first one now.
    private void BeginEpisode()
    {
        _handshake.Begin();
        SendInitiation(_manager.Time.GetTimestamp());
    }

    // Control loop: a fresh initiation (new ephemeral, index, timestamp), sent to the known path and every candidate.
    private void SendInitiation(long now)
    {
        if (_pending is not null)
        {
            _manager.Unregister(_pending);
            _pending.Noise.Dispose();
        }

        var noise = new NoiseIKHandshake(initiator: true, _manager.Keys, _peerKeyBytes, LinkManager.Prologue);
        var pending = new PendingHandshake(this, noise);
        uint index = _manager.Register(pending);
        byte[] message = new byte[ILinkPath.Headroom + HandshakeInitiationMessage.Length];
        Span<byte> datagram = message.AsSpan(ILinkPath.Headroom);
        HandshakeInitiationMessage.WriteHeader(datagram, index);
        Span<byte> timestamp = stackalloc byte[Tai64N.Length];
        NextTimestamp(timestamp);
        noise.WriteMessage1(timestamp, HandshakeInitiationMessage.NoiseMessage(datagram));
        WriteMacs(datagram);
        pending.SentAt = now;
        pending.Message = message;
        Volatile.Write(ref _pending, pending);

        // Direct candidates get a head start on the first attempt so that a relay, which answers whenever it is
        // configured, does not win a race a direct pair would have won (RFC 8445 section 6.1.4.2 paces checks by
        // priority for the same reason); retries and links already on the relay use every path at once.
        int attempt = _handshake.Attempts + 1;
        if (attempt == 1 && SendOnChosenPair(message))
        {
            _handshake.OnSent(now, relayHeadStart: false);
        }
        else
        {
            bool everyPath = attempt > 1 || _path is { Kind: LinkPath.Relayed };
            Spray(message, direct: true, relayed: everyPath);
            _handshake.OnSent(now, relayHeadStart: !everyPath);
        }

        _manager.LogHandshakeSent(this, _handshake.Attempts);
    }

    // Control loop: the schedule gave up on the episode.
    private void GiveUp()
    {
        if (_pending is not null)
        {
            _manager.Unregister(_pending);
            _pending.Noise.Dispose();
            Volatile.Write(ref _pending, null);
        }

        _staged?.Clear();
        bool everConnected = _handshake.EverConnected;
        LinkFailureReason reason = everConnected ? LinkFailureReason.PeerUnreachable : LinkFailureReason.HandshakeTimedOut;
        string detail = $"no handshake response after {_handshake.Attempts} attempts";
        if (!everConnected)
        {
            // The peer's side cannot tell us more: a node answers no handshake from a key it does not authorize (an
            // answer would confirm to a stranger that it is there), so silence is all a refused initiator gets.
            detail += " (the peer is unreachable, or it does not authorize this node's key; its log says which)";
        }

        if (!everConnected && _manager.Nat?.TurnAuthenticationFailure is { } turnFailure)
        {
            // Without a relay the link could only work directly, and it did not: the credentials are the likely cause.
            reason = LinkFailureReason.TurnAuthenticationFailed;
            detail = $"{detail}; {turnFailure}";
        }

        SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, reason, detail));
    }

    // Control loop: one initiation to the path in use, every candidate, and through our relay to every candidate.
    // `direct`: the path in use and the peer's host/srflx/prflx candidates; `relayed`: the peer's relayed
    // candidates from our socket and every candidate through our own allocation.
    private void Spray(byte[] message, bool direct, bool relayed)
    {
        ILinkPath? path = _path;
        if (direct)
        {
            path?.Send(message);
        }

        foreach (DirectUdpPath candidate in _candidatePaths)
        {
            bool wanted = candidate.Kind == LinkPath.Relayed ? relayed : direct;
            if (wanted && (path is not DirectUdpPath inUse || !inUse.IsSameAddress(candidate.Remote)))
            {
                candidate.Send(message);
            }
        }

        // Through our own relay to the peer's relayed candidates: the only way in when both sides are behind
        // symmetric NATs. Not to its other candidates: a NAT drops what the relay sends to a mapping made for
        // another destination, and in the NAT lab those sprays made relayed links lose traffic intermittently.
        if (relayed && _manager.Nat is { Allocation: not null } nat)
        {
            foreach (Candidate c in _candidates)
            {
                if (c.Type != CandidateType.Relayed)
                {
                    continue;
                }

                RelayedPath? viaRelay = nat.RelayedPathTo(c.EndPoint);
                if (viaRelay is not null && !ReferenceEquals(viaRelay, path))
                {
                    viaRelay.Send(message);
                }
            }
        }
    }

    // A strictly increasing TAI64N per link even if the clock stands still or steps back.
    private void NextTimestamp(Span<byte> timestamp)
    {
        Tai64N.Write(_manager.Time.GetUtcNow(), timestamp);
        if (Tai64N.Compare(timestamp, _lastSentTimestamp) <= 0)
        {
            _lastSentTimestamp.CopyTo(timestamp);
            Tai64N.Increment(timestamp);
        }

        timestamp.CopyTo(_lastSentTimestamp);
    }
}
