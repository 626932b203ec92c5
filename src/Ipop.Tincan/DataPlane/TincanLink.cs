using System.Buffers;
using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;
using NSec.Cryptography;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// One link: its sessions (current for sending; older ones still receivable; next, a responder session awaiting
/// the initiator's first packet), its handshake state machine, its path and counters.
/// The data path (<see cref="SendPayload"/>, <see cref="OnAuthenticated"/>) reads sessions without locks;
/// handshake and timer work takes <see cref="_gate"/>.
/// </summary>
internal sealed partial class TincanLink : ITincanLink
{
    internal const int PayloadOffset = ILinkPath.Headroom + TransportHeader.Length;

    private static readonly LinkStatus[] ConnectedStatuses =
        [.. Enum.GetValues<LinkPath>().Select(p => new LinkStatus(LinkState.Connected, p, LinkFailureReason.None))];

    private readonly Lock _gate = new();
    private readonly LinkManager _manager;
    private readonly byte[] _peerKeyBytes;
    private readonly byte[] _peerMacKey;
    private readonly byte[] _lastSentTimestamp = new byte[Tai64N.Length];
    private byte[]? _lastAcceptedTimestamp;
    private ImmutableArray<Candidate> _candidates;
    private List<DirectUdpPath> _candidatePaths = [];
    private ILinkPath? _path;
    // Sessions no longer used for sending but still accepted on receive until they expire: the previous current
    // (packets in flight during a rekey) and, after simultaneous handshakes, the session the peer still sends on.
    private readonly List<Session> _older = [];
    private Session? _current;
    private Session? _next;
    private PendingHandshake? _pending;
    private LinkStatus _status = LinkStatus.Connecting;
    private int _attempts;
    private long _backoffTicks;
    private long _nextRetryAt;
    private bool _wantHandshake;
    private long _notBefore;
    private bool _givenUp;
    private bool _everConnected;
    private bool _closed;
    private long _lastSent;
    private long _lastReceived;
    // Receive thread writes, timer reads: when data (not keepalives) last arrived, for the passive keepalive.
    private long _lastDataReceived;
    // When we first sent data after the last thing we heard from the peer; 0 once anything arrives.
    private long _firstUnansweredSend;
    private long _rttTicks = -1;
    private long _bytesSent;
    private long _bytesReceived;
    private long _packetsSent;
    private long _packetsReceived;
    private long _packetsDropped;
    private long _droppedSpoofed;
    private long _droppedReplayed;
    private long _droppedUnauthenticated;
    private long _handshakes;
    private StagedPackets? _staged;
    private readonly long _createdAt;
    private long _lastDirectReceived;
    private long _nextProbeAt;
    private long _probeInterval;
    private long _connectedAfterTicks = -1;
    private long _relaySprayAt;

    public TincanLink(LinkManager manager, PeerId peer, LinkDescriptor remote)
    {
        _manager = manager;
        Peer = peer;
        PeerKey = remote.Key;
        _peerKeyBytes = remote.Key.Bytes.ToArray();
        _peerMacKey = HandshakeMac.DeriveKey(_peerKeyBytes);
        _candidates = remote.Candidates;

        // Roles come from the keys so both sides do not start handshakes at the same time: the lower key initiates
        // and rekeys; the other side initiates only as a fallback, one handshake timeout later.
        PrefersInitiating = manager.LocalKey.Bytes.SequenceCompareTo(remote.Key.Bytes) < 0;
        _createdAt = manager.Time.GetTimestamp();
    }

    /// <summary>Time from <see cref="LinkManager.CreateLink"/> to the first Connected status, or null.</summary>
    internal TimeSpan? TimeToConnect
    {
        get
        {
            long ticks = Volatile.Read(ref _connectedAfterTicks);
            return ticks < 0 ? null : TimeSpan.FromSeconds((double)ticks / _manager.Time.TimestampFrequency);
        }
    }

    /// <summary>True when this side owns starting handshakes and rekeying (its key is the lower one).</summary>
    internal bool PrefersInitiating { get; }

    public PeerId Peer { get; }

    internal LinkManager Manager => _manager;

    public NodePublicKey PeerKey { get; }

    public LinkStatus Status => Volatile.Read(ref _status);

    /// <summary>The peer's candidates from its descriptor.</summary>
    internal ImmutableArray<Candidate> CandidatesFromDescriptor
    {
        get => _candidates;
        set => _candidates = value;
    }

    internal bool IsConnected => Volatile.Read(ref _current) is not null && !_closed;

    internal ILinkPath? Path => Volatile.Read(ref _path);

    /// <summary>
    /// Switches the link to another path (NAT traversal: a nominated candidate pair, a TURN channel). Sessions are
    /// unaffected; the next packet goes the new way.
    /// </summary>
    internal void SetPath(ILinkPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        lock (_gate)
        {
            Volatile.Write(ref _path, path);
            if (_current is not null)
            {
                SetStatus(ConnectedStatuses[(int)path.Kind]);
            }
        }

        _manager.RaiseQueuedEvents();
    }

    /// <summary>Packets waiting for the handshake.</summary>
    internal int StagedCount => Volatile.Read(ref _staged)?.Count ?? 0;

    public LinkStats GetStats()
    {
        long rtt = Volatile.Read(ref _rttTicks);
        long lastRx = Volatile.Read(ref _lastReceived);
        ILinkPath? path = Path;
        Candidate? remoteCandidate = RemoteCandidateOf(path);
        Candidate? localCandidate = LocalCandidateOf(path);

        return new LinkStats
        {
            BytesSent = Volatile.Read(ref _bytesSent),
            BytesReceived = Volatile.Read(ref _bytesReceived),
            PacketsSent = Volatile.Read(ref _packetsSent),
            PacketsReceived = Volatile.Read(ref _packetsReceived),
            PacketsDropped = Volatile.Read(ref _packetsDropped),
            DroppedSpoofed = Volatile.Read(ref _droppedSpoofed),
            DroppedReplayed = Volatile.Read(ref _droppedReplayed),
            DroppedUnauthenticated = Volatile.Read(ref _droppedUnauthenticated),
            Handshakes = Volatile.Read(ref _handshakes),
            RoundTripTime = rtt < 0 ? null : _manager.Time.GetElapsedTime(0, rtt),
            LocalCandidate = localCandidate,
            RemoteCandidate = remoteCandidate,
            LastReceived = lastRx == 0 ? null : _manager.Time.GetUtcNow() - _manager.Time.GetElapsedTime(lastRx),
        };
    }

    public bool TrySend(ReadOnlySpan<byte> packet) => SendRented(packet, ContentKind.Packet);

    public bool TrySendControl(ReadOnlySpan<byte> message) => SendRented(message, ContentKind.Control);

    /// <summary>
    /// Seals <paramref name="payload"/> into <paramref name="buffer"/> (headroom, header, ciphertext, tag) and sends it.
    /// <paramref name="payload"/> may be exactly <c>buffer[PayloadOffset..]</c> (sealed in place) or separate memory.
    /// </summary>
    /// <param name="buffer">Headroom, header slot, payload slot and tag room.</param>
    /// <param name="payload">The plaintext.</param>
    /// <param name="kind">What the packet carries.</param>
    /// <param name="stageWithoutSession">
    /// Hold the packet while a handshake runs instead of dropping it (the interface path; <see cref="TrySend"/>
    /// keeps its contract of refusing when not connected).
    /// </param>
    /// <param name="via">A candidate path to probe instead of the path in use (NAT traversal); not counted as traffic.</param>
    /// <returns><c>true</c> if sent (or held for the handshake).</returns>
    internal bool SendPayload(Span<byte> buffer, ReadOnlySpan<byte> payload, ContentKind kind, bool stageWithoutSession = false, ILinkPath? via = null)
    {
        if (payload.Length > _manager.MaxPayload)
        {
            _manager.Drops.Add(DropReason.Oversize);
            Interlocked.Increment(ref _packetsDropped);
            return false;
        }

        Session? session = Volatile.Read(ref _current);
        ILinkPath? path = via ?? Volatile.Read(ref _path);
        long now = _manager.Time.GetTimestamp();
        if (session is null || path is null || now - session.Created >= _manager.RejectAfterTicks)
        {
            bool staged = stageWithoutSession && kind == ContentKind.Packet && !_closed && !_givenUp && Stage(payload);
            if (!staged)
            {
                _manager.Drops.Add(DropReason.NoSession);
                Interlocked.Increment(ref _packetsDropped);
            }

            RequestHandshake();
            return staged;
        }

        ulong counter = session.NextCounter();
        if (counter >= ReplayWindow.RejectAfterMessages)
        {
            _manager.Drops.Add(DropReason.NoSession);
            RequestHandshake();
            return false;
        }

        Span<byte> header = buffer.Slice(ILinkPath.Headroom, TransportHeader.Length);
        TransportHeader.Write(header, kind, session.RemoteIndex, counter);
        int sealedLength = payload.Length + TransportCipher.TagLength;
        TransportCipher.Seal(session.SendKey, counter, header, payload, buffer.Slice(PayloadOffset, sealedLength));
        if (!path.Send(buffer[..(PayloadOffset + sealedLength)]))
        {
            Interlocked.Increment(ref _packetsDropped);
            return false;
        }

        if (via is not null)
        {
            // A probe on a candidate path: it must not stand in for the keepalive on the path in use.
            return true;
        }

        Volatile.Write(ref _lastSent, now);
        if (kind != ContentKind.Keepalive && Volatile.Read(ref _firstUnansweredSend) == 0)
        {
            Volatile.Write(ref _firstUnansweredSend, now);
        }

        if (kind == ContentKind.Packet)
        {
            Interlocked.Increment(ref _packetsSent);
            Interlocked.Add(ref _bytesSent, payload.Length);
        }

        // Either side asks for a new session when its own send counter runs high (only it knows that count).
        if (counter >= (ulong)_manager.RekeyAfterMessages)
        {
            RequestRekey(session);
        }

        return true;
    }

    /// <summary>Receive thread, after a transport packet on <paramref name="session"/> authenticated.</summary>
    internal void OnAuthenticated(Session session, SocketAddress from, ContentKind kind, int payloadLength, long now)
    {
        Volatile.Write(ref _lastReceived, now);
        if (Volatile.Read(ref _firstUnansweredSend) != 0)
        {
            Volatile.Write(ref _firstUnansweredSend, 0);
        }

        if (kind != ContentKind.Keepalive)
        {
            Volatile.Write(ref _lastDataReceived, now);
        }

        if (kind == ContentKind.Packet)
        {
            Interlocked.Increment(ref _packetsReceived);
            Interlocked.Add(ref _bytesReceived, payloadLength);
        }

        ILinkPath? path = Volatile.Read(ref _path);
        RelayedPath? relay = _manager.RelayIngress;
        if (relay is null && path is DirectUdpPath direct && direct.IsSameAddress(from))
        {
            if (direct.Kind != LinkPath.Relayed)
            {
                Volatile.Write(ref _lastDirectReceived, now);
            }
        }
        else if (relay is null || !ReferenceEquals(path, relay))
        {
            // Another address or route than the path in use: roaming, an upgrade from relay to direct, or a
            // fallback to the relay (rare; under the lock).
            lock (_gate)
            {
                if (!_closed)
                {
                    ObservePath(from, relay, now, handshake: false);
                }
            }

            _manager.RaiseQueuedEvents();
        }

        bool promoted = false;
        if (ReferenceEquals(session, Volatile.Read(ref _next)) || Volatile.Read(ref _status).State != LinkState.Connected)
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                if (ReferenceEquals(session, _next))
                {
                    // The initiator used the keys, so it completed the handshake: promote (WireGuard 5.4.3).
                    KeepForReceive(_current);
                    Volatile.Write(ref _current, session);
                    _next = null;
                    Interlocked.Increment(ref _handshakes);

                    // The initiator confirms at once with a keepalive, so this is close to one round trip.
                    Volatile.Write(ref _rttTicks, now - session.ResponseSentAt);
                    promoted = true;
                }

                _givenUp = false;
                if (_current is not null)
                {
                    StopIce();
                    _everConnected = true;
                    SetStatus(ConnectedStatuses[(int)(_path?.Kind ?? LinkPath.DirectHost)]);
                }
            }

            _manager.RaiseQueuedEvents();
        }

        if (promoted)
        {
            FlushStaged();
        }
    }

    /// <summary>Packets from this peer that the router refused for their source (cheap: no stats snapshot).</summary>
    internal long DroppedSpoofedCount => Volatile.Read(ref _droppedSpoofed);

    /// <summary>Counts a drop on this link and on the node (by <paramref name="reason"/>), so status and metrics can say why.</summary>
    internal void CountDrop(DropReason reason)
    {
        _manager.Drops.Add(reason);
        Interlocked.Increment(ref _packetsDropped);
        switch (reason)
        {
            case DropReason.SpoofedSource or DropReason.SpoofedMac:
                Interlocked.Increment(ref _droppedSpoofed);
                break;
            case DropReason.Replay or DropReason.HandshakeReplay:
                Interlocked.Increment(ref _droppedReplayed);
                break;
            case DropReason.AuthenticationFailed:
                Interlocked.Increment(ref _droppedUnauthenticated);
                break;
            default:
                break;
        }
    }

    /// <summary>Replaces the candidates and (re)starts a handshake.</summary>
    internal void Start(ImmutableArray<Candidate> candidates)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _candidates = candidates;
            _candidatePaths = [];
            UdpMux? mux = _manager.Mux;
            if (mux is not null)
            {
                foreach (Candidate c in candidates)
                {
                    // A relayed candidate is contacted from our socket too (its allocation permits our addresses'
                    // IPs); that path is Relayed, and it is only tried after the direct ones had a head start.
                    SocketAddress? address = mux.ToSocketAddress(c.EndPoint);
                    if (address is not null && _candidatePaths.Count < LinkDescriptor.MaxCandidates)
                    {
                        _candidatePaths.Add(new DirectUdpPath(mux, address, KindOf(c.Type)));
                    }
                }

                // New candidates: probe them soon if the link is on the relay.
                _nextProbeAt = 0;
                _probeInterval = _manager.HandshakeTimeoutTicks;

                // The path in use may have been learned before the peer's candidates arrived (peer-reflexive then):
                // its kind follows the candidate now listed at that address.
                if (_path is DirectUdpPath inUse)
                {
                    foreach (DirectUdpPath candidate in _candidatePaths)
                    {
                        if (candidate.IsSameAddress(inUse.Remote) && candidate.Kind != inUse.Kind)
                        {
                            Adopt(new DirectUdpPath(mux, inUse.Remote, candidate.Kind));
                            break;
                        }
                    }
                }

                if (_candidatePaths.Count == 0 && Volatile.Read(ref _path) is null)
                {
                    string? turnFailure = _manager.Nat?.TurnAuthenticationFailure;
                    SetStatus(turnFailure is not null
                        ? new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.TurnAuthenticationFailed, turnFailure)
                        : new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.NoCandidates, "no candidate of the peer is reachable from this socket's address family"));
                    return;
                }

                // Both sides start at once when a controller creates the link: the peer may have dropped our
                // earlier initiation because it had not authorized our key yet. Simultaneous initiations resolve
                // in OnInitiation (the lower key's handshake wins).
                _givenUp = false;
                if (_pending is null)
                {
                    if (StartIce())
                    {
                        // Checks first (RFC 8445 ideas); the handshake follows on the selected pair, or on every path
                        // if the checks have chosen nothing in time (a peer that cannot answer them still links).
                        _wantHandshake = true;
                        _notBefore = _manager.Time.GetTimestamp() + _manager.IceWaitTicks;
                    }
                    else
                    {
                        BeginEpisode();
                    }
                }
            }
            else
            {
                _wantHandshake = true;
                _notBefore = 0;
            }
        }
    }

    /// <summary>Timer: retries, rekeys, keepalives, expiry, dead-peer detection.</summary>
    internal void OnTick(long now)
    {
        bool keepalive = false;
        List<DirectUdpPath>? probes = null;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            if (_pending is not null)
            {
                SprayRelayedIfDue(now);
                if (now >= _nextRetryAt)
                {
                    if (_attempts >= _manager.HandshakeAttempts)
                    {
                        GiveUp();
                    }
                    else
                    {
                        _backoffTicks = Math.Min(_backoffTicks * 2, _manager.HandshakeTimeoutTicks * 8);
                        SendInitiation(now);
                    }
                }
            }
            else if (_wantHandshake && _manager.Mux is not null && now >= _notBefore)
            {
                if (_candidatePaths.Count == 0 && _path is null)
                {
                    _wantHandshake = false;
                    Start(_candidates);
                }
                else
                {
                    BeginEpisode();
                }
            }

            Session? current = _current;
            if (current is not null)
            {
                long age = now - current.Created;
                if (age >= _manager.RejectAfterTicks)
                {
                    Retire(current);
                    Volatile.Write(ref _current, null);
                    if (!_givenUp && _pending is null)
                    {
                        ScheduleEpisode(now);
                    }
                }
                else
                {
                    long rekeyAt = PrefersInitiating ? _manager.RekeyAfterTimeTicks : _manager.FallbackRekeyAfterTicks;
                    if (age >= rekeyAt && _pending is null && !_givenUp)
                    {
                        BeginEpisode();
                    }

                    long lastSent = Volatile.Read(ref _lastSent);
                    long idleFor = now - lastSent;

                    // Persistent keepalive (NAT mappings, liveness) and, while the peer sends us data and we have
                    // nothing to send back, a passive one so that the peer can tell a broken path within seconds.
                    keepalive = idleFor >= _manager.KeepaliveTicks || (Volatile.Read(ref _lastDataReceived) > lastSent && idleFor >= _manager.PassiveKeepaliveTicks);
                    probes = DueProbes(now);
                    long silent = now - Math.Max(Volatile.Read(ref _lastReceived), current.Created);
                    long lateBy = PrefersInitiating ? 0 : _manager.HandshakeTimeoutTicks;
                    long unanswered = Volatile.Read(ref _firstUnansweredSend);
                    bool broken = silent >= _manager.DeadPeerTicks + lateBy
                        || (unanswered != 0 && now - unanswered >= _manager.UnansweredTicks + lateBy && silent >= _manager.UnansweredTicks + lateBy);
                    if (broken && _pending is null && !_givenUp)
                    {
                        // A handshake over every path (the relay after a short head start for direct ones) finds
                        // the one that still works; ObservePath moves the link to it.
                        _manager.LogPathSilent(this, TimeSpan.FromSeconds((double)silent / _manager.Time.TimestampFrequency));
                        BeginEpisode();
                    }
                }
            }

            for (int i = _older.Count - 1; i >= 0; i--)
            {
                if (now - _older[i].Created >= _manager.RejectAfterTicks)
                {
                    Retire(_older[i]);
                    _older.RemoveAt(i);
                }
            }
            ExpireIfOld(ref _next, now);
        }

        if (keepalive)
        {
            SendKeepalive();
        }

        if (probes is not null)
        {
            Span<byte> buffer = stackalloc byte[PayloadOffset + TransportCipher.TagLength];
            foreach (DirectUdpPath probe in probes)
            {
                SendPayload(buffer, ReadOnlySpan<byte>.Empty, ContentKind.Keepalive, via: probe);
            }
        }
    }

    /// <summary>Receive thread: an authenticated initiation from this link's peer.</summary>
    internal void OnInitiation(NoiseIKHandshake noise, uint senderIndex, ReadOnlySpan<byte> timestamp, SocketAddress from)
    {
        lock (_gate)
        {
            if (_closed)
            {
                noise.Dispose();
                return;
            }

            int order = _lastAcceptedTimestamp is null ? 1 : Tai64N.Compare(timestamp, _lastAcceptedTimestamp);
            if (order <= 0)
            {
                CountDrop(DropReason.HandshakeReplay);

                // An equal timestamp is usually another copy of the initiation we just answered: the peer sends each
                // one over every candidate path and its relay. Only older ones are worth a warning.
                if (order < 0)
                {
                    _manager.LogHandshakeReplay(this, from);
                }

                noise.Dispose();
                return;
            }

            _lastAcceptedTimestamp = timestamp.ToArray();
            _wantHandshake = false;
            if (!PrefersInitiating && _pending is not null)
            {
                // Both sides initiated at once: the lower key's handshake wins, ours is abandoned.
                _manager.Unregister(_pending);
                _pending.Noise.Dispose();
                _pending = null;
            }

            byte[] message = new byte[ILinkPath.Headroom + HandshakeResponseMessage.Length];
            Span<byte> datagram = message.AsSpan(ILinkPath.Headroom);
            noise.WriteMessage2(ReadOnlySpan<byte>.Empty, HandshakeResponseMessage.NoiseMessage(datagram));
            Session session = CreateSession(noise, senderIndex, isInitiator: false);
            noise.Dispose();
            uint localIndex = _manager.Register(session);
            HandshakeResponseMessage.WriteHeader(datagram, localIndex, senderIndex);
            HandshakeMac.Write(datagram, _peerMacKey);

            Retire(_next);
            Volatile.Write(ref _next, session);
            ILinkPath path = ObservePath(from, _manager.RelayIngress, _manager.Time.GetTimestamp(), handshake: true);
            session.ResponseSentAt = _manager.Time.GetTimestamp();
            path.Send(message);
            _manager.LogHandshakeAccepted(this, from);
        }

        _manager.RaiseQueuedEvents();
    }

    /// <summary>Receive thread: a response to one of our initiations.</summary>
    internal void OnResponse(PendingHandshake pending, uint senderIndex, ReadOnlySpan<byte> noiseMessage, SocketAddress from)
    {
        lock (_gate)
        {
            if (_closed || !ReferenceEquals(pending, _pending))
            {
                _manager.Drops.Add(DropReason.UnknownIndex);
                return;
            }

            if (!pending.Noise.TryReadMessage2(noiseMessage, Span<byte>.Empty, out int payloadLength) || payloadLength != 0)
            {
                // A failed read leaves the Noise state as it was, so a forged response injected on the path does not
                // keep the genuine one that follows from completing the handshake.
                CountDrop(DropReason.AuthenticationFailed);
                return;
            }

            Session session = CreateSession(pending.Noise, senderIndex, isInitiator: true);
            pending.Noise.Dispose();
            session.LocalIndex = pending.LocalIndex;
            _manager.Replace(pending, session);
            _pending = null;
            long now = _manager.Time.GetTimestamp();
            Volatile.Write(ref _rttTicks, now - pending.SentAt);

            // After simultaneous handshakes the peer may still send on the session it initiated (our next):
            // keep it receivable instead of dropping it, unlike WireGuard, which loses those packets.
            KeepForReceive(_next);
            _next = null;
            KeepForReceive(_current);

            _ = ObservePath(from, _manager.RelayIngress, now, handshake: true);
            Volatile.Write(ref _current, session);
            Volatile.Write(ref _lastReceived, now);
            Interlocked.Increment(ref _handshakes);
            _attempts = 0;
            _givenUp = false;
            _everConnected = true;
            StopIce();
            SetStatus(ConnectedStatuses[(int)(_path?.Kind ?? LinkPath.DirectHost)]);
            _manager.LogHandshakeCompleted(this, from);
        }

        _manager.RaiseQueuedEvents();

        // Confirms the session to the responder at once (it may not send on it before it hears from us); packets
        // held during the handshake do the same job when there are any.
        if (!FlushStaged())
        {
            SendKeepalive();
        }
    }

    internal void Close(LinkFailureReason reason)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            StopIce();
            _staged?.Clear();
            if (_pending is not null)
            {
                _manager.Unregister(_pending);
                _pending.Noise.Dispose();
                _pending = null;
            }

            Retire(_current);
            foreach (Session older in _older)
            {
                Retire(older);
            }

            _older.Clear();
            Retire(_next);
            Volatile.Write(ref _current, null);
            _next = null;
            SetStatus(new LinkStatus(LinkState.Closed, LinkPath.None, reason));
        }
    }

    // Any thread: hold a packet until a session exists. Re-checks afterwards so a session that appeared meanwhile
    // does not leave the packet waiting for the next handshake.
    private bool Stage(ReadOnlySpan<byte> payload)
    {
        StagedPackets staged = Volatile.Read(ref _staged) ?? InitializeStaged();
        if (!staged.Add(payload))
        {
            _manager.Drops.Add(DropReason.NoSession);
            Interlocked.Increment(ref _packetsDropped);
        }

        if (HasUsableSession())
        {
            FlushStaged();
        }

        return true;
    }

    // The same test SendPayload makes, so a flush never stages its own packets again (no recursion).
    private bool HasUsableSession()
    {
        Session? session = Volatile.Read(ref _current);
        return session is not null && Volatile.Read(ref _path) is not null && _manager.Time.GetTimestamp() - session.Created < _manager.RejectAfterTicks;
    }

    private StagedPackets InitializeStaged()
    {
        var fresh = new StagedPackets(_manager.MaxPayload);
        return Interlocked.CompareExchange(ref _staged, fresh, null) ?? fresh;
    }

    /// <summary>Sends the packets held during the handshake.</summary>
    /// <returns><c>true</c> if at least one went out.</returns>
    private bool FlushStaged()
    {
        StagedPackets? staged = Volatile.Read(ref _staged);
        if (staged is null || staged.Count == 0)
        {
            return false;
        }

        bool any = false;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(PayloadOffset + _manager.MaxPayload + TransportCipher.TagLength);
        try
        {
            while (HasUsableSession() && staged.TryTake(buffer.AsSpan(PayloadOffset), out int length))
            {
                any |= SendPayload(buffer, buffer.AsSpan(PayloadOffset, length), ContentKind.Packet);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return any;
    }

    private bool SendRented(ReadOnlySpan<byte> payload, ContentKind kind)
    {
        if (payload.Length > _manager.MaxPayload)
        {
            _manager.Drops.Add(DropReason.Oversize);
            Interlocked.Increment(ref _packetsDropped);
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(PayloadOffset + payload.Length + TransportCipher.TagLength);
        try
        {
            return SendPayload(buffer, payload, kind);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void SendKeepalive()
    {
        Span<byte> buffer = stackalloc byte[PayloadOffset + TransportCipher.TagLength];
        SendPayload(buffer, ReadOnlySpan<byte>.Empty, ContentKind.Keepalive);
    }

    private void RequestHandshake()
    {
        if (Volatile.Read(ref _pending) is not null || Volatile.Read(ref _wantHandshake) || _closed || _givenUp)
        {
            return;
        }

        lock (_gate)
        {
            if (_pending is null && !_wantHandshake && !_closed && !_givenUp && _manager.Mux is not null)
            {
                ScheduleEpisode(_manager.Time.GetTimestamp());
            }
        }
    }

    // Under _gate: start a handshake now if this side owns initiating, otherwise give the peer one handshake
    // timeout to start it (the timer starts ours if it does not).
    private void ScheduleEpisode(long now)
    {
        if (PrefersInitiating)
        {
            BeginEpisode();
        }
        else if (!_wantHandshake)
        {
            _wantHandshake = true;
            _notBefore = now + _manager.HandshakeTimeoutTicks;
        }
    }

    private void RequestRekey(Session session)
    {
        if (Volatile.Read(ref _pending) is not null)
        {
            return;
        }

        lock (_gate)
        {
            if (_pending is null && !_closed && ReferenceEquals(session, _current))
            {
                BeginEpisode();
            }
        }
    }

    // Under _gate.
    private void BeginEpisode()
    {
        _wantHandshake = false;
        _attempts = 0;
        _backoffTicks = _manager.HandshakeTimeoutTicks;
        SendInitiation(_manager.Time.GetTimestamp());
    }

    // Under _gate: a fresh initiation (new ephemeral, index, timestamp), sent to the known path and every candidate.
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
        HandshakeMac.Write(datagram, _peerMacKey);
        pending.SentAt = now;
        pending.Message = message;
        _pending = pending;
        _attempts++;
        _nextRetryAt = now + _backoffTicks;

        // Direct candidates get a head start on the first attempt so that a relay, which answers whenever it is
        // configured, does not win a race a direct pair would have won (RFC 8445 section 6.1.4.2 paces checks by
        // priority for the same reason); retries and links already on the relay use every path at once.
        if (!SendOnChosenPair(message))
        {
            bool everyPath = _attempts > 1 || _path is { Kind: LinkPath.Relayed };
            Spray(message, direct: true, relayed: everyPath);
            _relaySprayAt = everyPath ? 0 : now + Math.Max(1, Math.Min(_manager.HandshakeTimeoutTicks / 2, _manager.Time.TimestampFrequency / 4));
        }

        _manager.LogHandshakeSent(this, _attempts);
    }

    // Under _gate, timer: the relayed copies of the first attempt after the direct head start.
    private void SprayRelayedIfDue(long now)
    {
        if (_relaySprayAt != 0 && now >= _relaySprayAt && _pending is { Message.Length: > 0 } pending)
        {
            _relaySprayAt = 0;
            Spray(pending.Message, direct: false, relayed: true);
        }
    }

    /// <summary>
    /// Our TURN permissions for this peer are installed: send the pending initiation again at once rather than one
    /// retry interval later, since a copy through our relay, or the peer's answer to it, may have been refused.
    /// </summary>
    internal void OnRelayReady()
    {
        lock (_gate)
        {
            // Before the head start is over the timer sends the relayed copies anyway.
            if (!_closed && _relaySprayAt == 0 && _pending is { Message.Length: > 0 } pending)
            {
                Spray(pending.Message, direct: false, relayed: true);
            }
        }
    }

    // Under _gate: one initiation to the path in use, every candidate, and through our relay to every candidate.
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

    private Session CreateSession(NoiseIKHandshake noise, uint remoteIndex, bool isInitiator)
    {
        Span<byte> keys = stackalloc byte[64];
        noise.Split(keys);
        Key first = TransportCipher.ImportKey(keys[..32]);
        Key second = TransportCipher.ImportKey(keys[32..]);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(keys);

        // Split's first key protects initiator-to-responder traffic (Noise 5.2).
        return isInitiator
            ? new Session(this, remoteIndex, first, second, true, _manager.Time.GetTimestamp())
            : new Session(this, remoteIndex, second, first, false, _manager.Time.GetTimestamp());
    }

    private static LinkPath KindOf(CandidateType type) => type switch
    {
        CandidateType.Host => LinkPath.DirectHost,
        CandidateType.ServerReflexive => LinkPath.DirectServerReflexive,
        CandidateType.PeerReflexive => LinkPath.DirectPeerReflexive,
        _ => LinkPath.Relayed,
    };

    // Under _gate: which path to use after an authenticated datagram from `from` (through our relay when `relay`
    // is set). Prefers direct over relayed (RFC 8445 section 5.1.2.1 type preferences): a relayed link moves to a
    // direct path as soon as one authenticates; a direct link falls back to the relay only when direct went silent.
    private ILinkPath ObservePath(SocketAddress from, RelayedPath? relay, long now, bool handshake)
    {
        ILinkPath? current = _path;
        bool arrivalRelayed = relay is not null || IsPeerRelayAddress(from);
        if (!arrivalRelayed)
        {
            Volatile.Write(ref _lastDirectReceived, now);
            if (current is not null && current.Kind != LinkPath.Relayed)
            {
                current.OnAuthenticatedFrom(from);
                return current;
            }

            return Adopt(NewDirectPath(from));
        }

        if (current is not null && current.Kind != LinkPath.Relayed)
        {
            // Direct still works unless it has been silent: for a handshake through the relay, one handshake timeout
            // (the peer only sends one there when its direct copy went unanswered); for data, longer than a
            // keepalive interval, since a healthy idle direct path carries a keepalive at least that often.
            long silentFor = now - Volatile.Read(ref _lastDirectReceived);
            if (silentFor < (handshake ? _manager.HandshakeTimeoutTicks : _manager.DirectSilenceTicks))
            {
                return current;
            }
        }

        if (relay is not null)
        {
            return ReferenceEquals(current, relay) ? current : Adopt(relay);
        }

        if (current is DirectUdpPath d && d.IsSameAddress(from))
        {
            return current;
        }

        return Adopt(NewDirectPath(from));
    }

    private DirectUdpPath NewDirectPath(SocketAddress from)
    {
        // The kind comes from the peer's candidate at that address; an address the peer did not list is one a
        // NAT gave it (peer-reflexive, RFC 8445 section 7.2.5.3.1).
        LinkPath kind = LinkPath.DirectPeerReflexive;
        foreach (DirectUdpPath candidate in _candidatePaths)
        {
            if (candidate.IsSameAddress(from))
            {
                kind = candidate.Kind;
                break;
            }
        }

        var copy = new SocketAddress(from.Family, from.Size);
        from.Buffer.Span.CopyTo(copy.Buffer.Span);
        return new DirectUdpPath(_manager.Mux!, copy, kind);
    }

    // Under _gate.
    private ILinkPath Adopt(ILinkPath path)
    {
        ILinkPath? previous = _path;
        Volatile.Write(ref _path, path);
        if (path is RelayedPath relayed)
        {
            relayed.Activate();
        }

        if (path.Kind == LinkPath.Relayed)
        {
            // Probe the direct candidates at the next tick: the relay answered first, a direct path may still work.
            _nextProbeAt = 0;
            _probeInterval = _manager.HandshakeTimeoutTicks;
        }

        if (previous is not null)
        {
            _manager.LogLinkPathChanged(this, previous.Kind, path.Kind, path);
            if (_current is not null && _status.State == LinkState.Connected && previous.Kind != path.Kind)
            {
                SetStatus(ConnectedStatuses[(int)path.Kind]);
            }
        }

        return path;
    }

    private bool IsPeerRelayAddress(SocketAddress from)
    {
        foreach (DirectUdpPath candidate in _candidatePaths)
        {
            if (candidate.Kind == LinkPath.Relayed && candidate.IsSameAddress(from))
            {
                return true;
            }
        }

        return false;
    }

    // Under _gate: while relayed, keepalives to the peer's direct candidates every handshake timeout; the first one
    // that authenticates at the peer moves it (and then us) to the direct path.
    private List<DirectUdpPath>? DueProbes(long now)
    {
        if (_path is not { Kind: LinkPath.Relayed } || now < _nextProbeAt)
        {
            return null;
        }

        // Back off to 8 handshake timeouts: a pair of symmetric NATs may never open a direct path.
        _probeInterval = Math.Max(_probeInterval, _manager.HandshakeTimeoutTicks);
        _nextProbeAt = now + _probeInterval;
        _probeInterval = Math.Min(_probeInterval * 2, _manager.HandshakeTimeoutTicks * 8);
        List<DirectUdpPath>? probes = null;
        foreach (DirectUdpPath candidate in _candidatePaths)
        {
            if (candidate.Kind != LinkPath.Relayed)
            {
                (probes ??= []).Add(candidate);
            }
        }

        return probes;
    }

    private Candidate? LocalCandidateOf(ILinkPath? path) =>
        path is RelayedPath relayed ? relayed.LocalCandidate ?? _manager.LocalHostCandidate : _manager.LocalCandidateToward(path?.RemoteEndPoint);

    private Candidate? RemoteCandidateOf(ILinkPath? path)
    {
        IPEndPoint? remote = path?.RemoteEndPoint;
        if (remote is null)
        {
            return null;
        }

        foreach (Candidate c in _candidates)
        {
            if (c.EndPoint.Equals(remote))
            {
                return c;
            }
        }

        return new Candidate(CandidateType.PeerReflexive, remote, Candidate.ComputePriority(CandidateType.PeerReflexive, 0), "prflx");
    }

    private void GiveUp()
    {
        if (_pending is not null)
        {
            _manager.Unregister(_pending);
            _pending.Noise.Dispose();
            _pending = null;
        }

        _givenUp = true;
        _staged?.Clear();
        LinkFailureReason reason = _everConnected ? LinkFailureReason.PeerUnreachable : LinkFailureReason.HandshakeTimedOut;
        string detail = $"no handshake response after {_attempts} attempts";
        if (!_everConnected)
        {
            // The peer's side cannot tell us more: a node answers no handshake from a key it does not authorize (an
            // answer would confirm to a stranger that it is there), so silence is all a refused initiator gets.
            detail += " (the peer is unreachable, or it does not authorize this node's key; its log says which)";
        }

        if (!_everConnected && _manager.Nat?.TurnAuthenticationFailure is { } turnFailure)
        {
            // Without a relay the link could only work directly, and it did not: the credentials are the likely cause.
            reason = LinkFailureReason.TurnAuthenticationFailed;
            detail = $"{detail}; {turnFailure}";
        }

        SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, reason, detail));
    }

    // Under _gate. At most three older sessions stay receivable; the oldest leaves first.
    private void KeepForReceive(Session? session)
    {
        if (session is null)
        {
            return;
        }

        _older.Add(session);
        if (_older.Count > 3)
        {
            Retire(_older[0]);
            _older.RemoveAt(0);
        }
    }

    private void ExpireIfOld(ref Session? slot, long now)
    {
        Session? s = slot;
        if (s is not null && now - s.Created >= _manager.RejectAfterTicks)
        {
            Retire(s);
            slot = null;
        }
    }

    // Sessions leave the index table at once; their keys are not disposed here because another thread may be
    // using them for a packet right now. NSec frees (and zeroes) the key memory when the handle is finalized.
    private void Retire(Session? session)
    {
        if (session is not null)
        {
            _manager.Unregister(session);
        }
    }

    private void SetStatus(LinkStatus status)
    {
        LinkStatus previous = _status;
        if (previous == status)
        {
            return;
        }

        Volatile.Write(ref _status, status);
        if (status.State == LinkState.Connected && previous.State != LinkState.Connected)
        {
            long elapsed = _manager.Time.GetTimestamp() - _createdAt;
            Interlocked.CompareExchange(ref _connectedAfterTicks, elapsed, -1);
            ILinkPath? path = _path;
            _manager.LogLinkConnected(this, status.Path, LocalCandidateOf(path), RemoteCandidateOf(path), _manager.Time.GetElapsedTime(_createdAt).TotalMilliseconds);
        }

        // Raised by the caller once it has left the lock (LinkManager.RaiseQueuedEvents).
        _manager.QueueStatusChanged(this, previous, status);
    }
}
