using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// One link: its sessions (current for sending; older ones still receivable; next, a responder session awaiting
/// the initiator's first packet), its path and counters. The decisions live in small clock-driven parts this class
/// composes: <see cref="HandshakeSchedule"/> (when to initiate, retry, give up), <see cref="PathSelector"/> (which
/// path, relay/direct moves, probes), <see cref="LinkLiveness"/> (keepalive, rekey, expiry, dead peer).
/// </summary>
/// <remarks>
/// Files by concern: <c>TincanLink.Send.cs</c> (what happens to an outgoing packet), <c>.Receive.cs</c> (after a
/// packet authenticated), <c>.Handshake.cs</c> (initiations and responses), <c>.Paths.cs</c> (candidates and the
/// path in use), <c>.Timer.cs</c> (what the node's deadline timer does), <c>Link/TincanLink.Deadlines.cs</c> (when it is due), <c>.Ice.cs</c> (connectivity checks before the first handshake).
/// Control state (everything but the counters, activity times and staged packets) belongs to the node's
/// <see cref="ControlLoop"/>: every entry point that changes it posts a step there, and no lock guards it. Packet
/// threads read <see cref="Snapshot"/> (published by the loop) and post when they need the loop (a handshake, a
/// path move, a promotion). Status changes are raised by the loop between steps, with nothing held.
/// </remarks>
internal sealed partial class TincanLink : ITincanLink
{
    internal const int PayloadOffset = DatagramLayout.PayloadOffset;

    private static readonly LinkStatus[] ConnectedStatuses =
        [.. Enum.GetValues<LinkPath>().Select(p => new LinkStatus(LinkState.Connected, p, LinkFailureReason.None))];

    private readonly LinkManager _manager;
    private readonly LinkTimings _timings;
    private readonly HandshakeSchedule _handshake;
    private readonly PathSelector _paths;
    private readonly LinkLiveness _liveness;
    private readonly LinkActivity _activity = new();
    private readonly LinkCounters _counters = new();
    private readonly byte[] _peerKeyBytes;
    private readonly byte[] _peerMacKey;
    private readonly long _createdAt;

    // Sessions no longer used for sending but still accepted on receive until they expire: the previous current
    // (packets in flight during a rekey) and, after simultaneous handshakes, the session the peer still sends on.
    private readonly List<Session> _older = [];
    private Session? _current;
    private Session? _next;
    private PendingHandshake? _pending;
    // The loop's own view, changed in steps; _visibleStatus follows it as the loop raises each change, so Status and
    // LinkStatusChanged agree for a reader that polls one and looks for the other.
    private LinkStatus _status = LinkStatus.Connecting;
    private LinkStatus _visibleStatus = LinkStatus.Connecting;
    private bool _closed;
    private long _rttTicks = -1;
    private long _connectedAfterTicks = -1;
    private StagedPackets? _staged;
    private LinkSnapshot? _snapshot;
    private long _retiredSessions;

    public TincanLink(LinkManager manager, PeerId peer, LinkDescriptor remote)
    {
        _manager = manager;
        _timings = manager.Timings;
        Peer = peer;
        PeerKey = remote.Key;
        _peerKeyBytes = remote.Key.Bytes.ToArray();
        _peerMacKey = HandshakeMac.DeriveKey(_peerKeyBytes);
        _candidates = remote.Candidates;

        // Roles come from the keys so both sides do not start handshakes at the same time: the lower key initiates
        // and rekeys; the other side initiates only as a fallback, one handshake timeout later.
        PrefersInitiating = manager.LocalKey.Bytes.SequenceCompareTo(remote.Key.Bytes) < 0;
        _handshake = new HandshakeSchedule(_timings, PrefersInitiating);
        _paths = new PathSelector(_timings);
        _liveness = new LinkLiveness(_timings, PrefersInitiating);
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

    public LinkStatus Status => Volatile.Read(ref _visibleStatus);

    /// <summary>Control loop, as it raises a status change: from now on <see cref="Status"/> reports it.</summary>
    internal void ShowStatus(LinkStatus status) => Volatile.Write(ref _visibleStatus, status);

    internal bool IsConnected => Volatile.Read(ref _snapshot) is not null && !Volatile.Read(ref _closed);

    /// <summary>
    /// What packets are sent with (session and path), or null while there is no session or no path. Published by the
    /// control loop with Volatile.Write; packet threads read it once per packet.
    /// </summary>
    internal LinkSnapshot? Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>Sessions retired so far (their keys freed, or freed as the last packet using them finishes).</summary>
    internal long RetiredSessions => Interlocked.Read(ref _retiredSessions);

    /// <summary>Packets waiting for the handshake.</summary>
    internal int StagedCount => Volatile.Read(ref _staged)?.Count ?? 0;

    /// <summary>Packets from this peer that the router refused for their source (cheap: no stats snapshot).</summary>
    internal long DroppedSpoofedCount => _counters.DroppedSpoofed;

    public LinkStats GetStats()
    {
        long rtt = Volatile.Read(ref _rttTicks);
        long lastRx = _activity.LastReceived;
        ILinkPath? path = Path;
        return _counters.CopyTo(new LinkStats
        {
            RoundTripTime = rtt < 0 ? null : _manager.Time.GetElapsedTime(0, rtt),
            LocalCandidate = LocalCandidateOf(path),
            RemoteCandidate = RemoteCandidateOf(path),
            LastReceived = lastRx == 0 ? null : _manager.Time.GetUtcNow() - _manager.Time.GetElapsedTime(lastRx),
        });
    }

    /// <summary>Counts a drop on this link and on the node (by <paramref name="reason"/>), so status and metrics can say why.</summary>
    internal void CountDrop(DropReason reason)
    {
        _manager.Drops.Add(reason);
        _counters.OnDropped(reason);
    }

    /// <summary>Counts a packet from another link that this node forwarded over this one (overlay forwarding).</summary>
    internal void CountForwarded(int payloadLength) => _counters.OnForwarded(payloadLength);

    /// <summary>Closes the link, on the control loop (see <see cref="ControlLoop.PostAndWait"/>).</summary>
    internal void Close(LinkFailureReason reason) => _manager.Control.PostAndWait(() => CloseOnLoop(reason), LinkManager.ControllerWait);

    private void CloseOnLoop(LinkFailureReason reason)
    {
        if (_closed)
        {
            return;
        }

        Volatile.Write(ref _closed, true);
        StopIce();
        _staged?.Clear();
        AbandonPending();
        Retire(_current);
        foreach (Session older in _older)
        {
            Retire(older);
        }

        _older.Clear();
        Retire(_next);
        SetCurrent(null);
        Volatile.Write(ref _next, null);
        SetStatus(new LinkStatus(LinkState.Closed, LinkPath.None, reason));
    }

    // Control loop: the session packets are sent with from now on; publishes the snapshot.
    private void SetCurrent(Session? session)
    {
        Volatile.Write(ref _current, session);
        Publish();
    }

    // Control loop: after the current session or the path changed.
    private void Publish()
    {
        Session? current = _current;
        ILinkPath? path = _path;
        LinkSnapshot? published = _snapshot;
        if (current is null || path is null || _closed)
        {
            Volatile.Write(ref _snapshot, null);
        }
        else if (published is null || !ReferenceEquals(published.Current, current) || !ReferenceEquals(published.Path, path))
        {
            Volatile.Write(ref _snapshot, new LinkSnapshot(current, path));
        }
    }

    // Control loop: the pending initiation leaves the index table unanswered.
    private void AbandonPending()
    {
        if (_pending is not null)
        {
            _manager.Unregister(_pending);
            _pending.Noise.Dispose();
            Volatile.Write(ref _pending, null);
            _handshake.OnAbandoned();
        }
    }

    private Session CreateSession(NoiseIKHandshake noise, uint remoteIndex, bool isInitiator)
    {
        Span<byte> keys = stackalloc byte[64];
        noise.Split(keys);
        NSec.Cryptography.Key first = TransportCipher.ImportKey(keys[..32]);
        NSec.Cryptography.Key second = TransportCipher.ImportKey(keys[32..]);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(keys);

        // Split's first key protects initiator-to-responder traffic (Noise 5.2).
        return isInitiator
            ? new Session(this, remoteIndex, first, second, _manager.Time.GetTimestamp())
            : new Session(this, remoteIndex, second, first, _manager.Time.GetTimestamp());
    }

    // Control loop. At most three older sessions stay receivable; the oldest leaves first.
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

    // Control loop: sessions past RejectAfter leave (the current one is handled by the timer's liveness check).
    private void ExpireOldSessions(long now)
    {
        for (int i = _older.Count - 1; i >= 0; i--)
        {
            if (_liveness.IsExpired(now, _older[i].Created))
            {
                Retire(_older[i]);
                _older.RemoveAt(i);
            }
        }

        if (_next is { } next && _liveness.IsExpired(now, next.Created))
        {
            Retire(next);
            Volatile.Write(ref _next, null);
        }
    }

    // Sessions leave the index table, then their keys are zeroed and freed: now, or when a packet thread that is
    // using them this instant is done (Session.Retire); a packet that reaches a retired session is dropped.
    private void Retire(Session? session)
    {
        if (session is not null)
        {
            _manager.Unregister(session);
            session.Retire();
            Interlocked.Increment(ref _retiredSessions);
        }
    }

    // Control loop. Queues the change: the loop raises it after the step, with nothing held (LinkManager.RaiseQueuedEvents).
    private void SetStatus(LinkStatus status)
    {
        LinkStatus previous = _status;
        if (previous == status)
        {
            return;
        }

        Volatile.Write(ref _status, status);
        RememberFailure(status);
        if (status.State == LinkState.Connected && previous.State != LinkState.Connected)
        {
            long elapsed = _manager.Time.GetTimestamp() - _createdAt;
            Interlocked.CompareExchange(ref _connectedAfterTicks, elapsed, -1);
            ILinkPath? path = _path;
            _manager.LogLinkConnected(this, status.Path, LocalCandidateOf(path), RemoteCandidateOf(path), _manager.Time.GetElapsedTime(_createdAt).TotalMilliseconds);
        }

        _manager.QueueStatusChanged(this, previous, status);
    }

    // Control loop: connected over the path in use (or direct host before one is known).
    private void SetConnected() => SetStatus(ConnectedStatuses[(int)(_path?.Kind ?? LinkPath.DirectHost)]);
}
