namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// When a link sends handshake initiations (WireGuard section 6.4 ideas): episodes of attempts with a backoff, the
/// relay's copies after the direct candidates' head start, giving up after the last attempt, and
/// deferring to the peer when it owns initiating. It does not touch keys or sockets: the link creates and sends
/// each initiation and reports back.
/// </summary>
/// <remarks>
/// Pure and clock-driven like <see cref="Ice.Checklist"/>: every time is passed in (<see cref="TimeProvider.GetTimestamp"/>
/// ticks). Not thread-safe: its owner serializes the calls.
/// Roles come from the keys so both sides do not start handshakes at the same time: the lower key initiates and
/// rekeys; the other side initiates only as a fallback, one handshake timeout later.
/// <para>
/// Early retries: a lost initiation or response is by far the most common cause of a slow start on a lossy path (10 %
/// loss each way loses a fifth of the round trips), and waiting a whole handshake timeout for it made the slowest of
/// ten starts take 3.8 s. So within the first attempt's wait a fresh initiation (a resent one would be refused as a
/// replay of its timestamp) goes after <see cref="LinkTimings.FirstRetry"/>, then after waits half again as long each,
/// as ICE's checks pace themselves (RFC 8445 section 14.3): five initiations in the first 2.2 s with the defaults.
/// They are extra to <see cref="LinkTimings.HandshakeAttempts"/>: the counted attempts, their doubling backoff and
/// the time the episode gives up are those of the handshake timeout as before, so the early ones add a bounded
/// handful of initiations to the first attempt only, not a flood.
/// </para>
/// </remarks>
internal sealed class HandshakeSchedule
{
    private readonly LinkTimings _timings;
    private long _backoff;
    private int _counted;
    private long _earlyGap;
    private long _earlyAt;
    private bool _earlySend;
    private bool _resumeAfterAbandon;
    private bool _givenUp;

    public HandshakeSchedule(LinkTimings timings, bool prefersInitiating)
    {
        _timings = timings;
        PrefersInitiating = prefersInitiating;
    }

    /// <summary>True when this side owns starting handshakes and rekeying (its key is the lower one).</summary>
    public bool PrefersInitiating { get; }

    /// <summary>An initiation is out and its response awaited.</summary>
    public bool InFlight { get; private set; }

    /// <summary>
    /// The last episode ended without a response; nothing starts until the link is restarted or hears from the peer.
    /// Packet threads read it (they hold no packets for a link that gave up).
    /// </summary>
    public bool GivenUp
    {
        get => Volatile.Read(ref _givenUp);
        private set => Volatile.Write(ref _givenUp, value);
    }

    /// <summary>A handshake is wanted, but not before <see cref="NotBefore"/> (the peer's turn, or the checks' time).</summary>
    public bool Deferred { get; private set; }

    /// <summary>When a deferred handshake may begin.</summary>
    public long NotBefore { get; private set; }

    /// <summary>A session existed at least once (a later give-up means the peer became unreachable).</summary>
    public bool EverConnected { get; private set; }

    /// <summary>Initiations sent in the current episode (the early, fast retries included).</summary>
    public int Attempts { get; private set; }

    /// <summary>When the pending initiation is retried (or the episode given up).</summary>
    public long NextRetryAt { get; private set; }

    /// <summary>When the first attempt's relayed copies go out; 0 when none are due.</summary>
    public long RelaySprayAt { get; private set; }

    /// <summary>Nothing holds a new episode back: no initiation is out and the link has not given up.</summary>
    public bool CanBegin => !InFlight && !GivenUp;

    /// <summary>A new episode: the caller sends its first initiation now and reports it with <see cref="OnSent"/>.</summary>
    public void Begin()
    {
        Deferred = false;
        Attempts = 0;
        _counted = 0;
        _earlyAt = 0;
        _earlySend = false;
        _resumeAfterAbandon = false;
        _earlyGap = _timings.FirstRetry;
        _backoff = _timings.HandshakeTimeout;
    }

    /// <summary>An initiation left at <paramref name="now"/>; with <paramref name="relayHeadStart"/> its relayed copies are still to come.</summary>
    public void OnSent(long now, bool relayHeadStart)
    {
        InFlight = true;
        Attempts++;
        if (_earlySend)
        {
            // An early retry: the counted attempt's wait runs on; the next early one waits half again as long, while
            // it still comes before that wait ends.
            _earlySend = false;
            _earlyGap += Math.Max(1, _earlyGap / 2);
            _earlyAt = now + _earlyGap < NextRetryAt ? now + _earlyGap : 0;
            RelaySprayAt = 0;
            return;
        }

        _counted++;
        NextRetryAt = now + _backoff;
        RelaySprayAt = relayHeadStart ? now + _timings.RelayHeadStart : 0;
        _earlyAt = _counted == 1 && _earlyGap < _backoff ? now + _earlyGap : 0;
    }

    /// <summary>The relayed copies went out already (a TURN permission came through, or the pair was proven).</summary>
    public void CancelRelaySpray() => RelaySprayAt = 0;

    /// <summary>
    /// Something needs a session (a packet to send, an expired one). Returns true when this side begins at once;
    /// otherwise the peer gets one handshake timeout to begin, and <see cref="Tick"/> begins it after that.
    /// </summary>
    public bool Request(long now)
    {
        if (PrefersInitiating)
        {
            return true;
        }

        if (!Deferred)
        {
            Defer(now + _timings.HandshakeTimeout);
        }

        return false;
    }

    /// <summary>Wants a handshake at <paramref name="notBefore"/> (after the connectivity checks had their time).</summary>
    public void Defer(long notBefore)
    {
        Deferred = true;
        NotBefore = notBefore;
    }

    /// <summary>What is due at <paramref name="now"/>. <paramref name="canSend"/>: the node has a socket to send from.</summary>
    public HandshakeStep Tick(long now, bool canSend)
    {
        if (_resumeAfterAbandon)
        {
            // Our initiation gave way to the peer's, and our response to it may be lost: unless the peer's session
            // is confirmed meanwhile (OnHeard), we begin again after two early-retry waits instead of waiting for the
            // peer's retry, which may be a long backoff away (it was seen to cost 10 s on a lossy path).
            _resumeAfterAbandon = false;
            if (!InFlight && !Deferred && !GivenUp)
            {
                Defer(now + (2 * _timings.FirstRetry));
            }
        }

        if (InFlight)
        {
            HandshakeStep step = HandshakeStep.None;
            if (RelaySprayAt != 0 && now >= RelaySprayAt)
            {
                RelaySprayAt = 0;
                step |= HandshakeStep.SprayRelayed;
            }

            if (now >= NextRetryAt)
            {
                _earlyAt = 0;
                if (_counted >= _timings.HandshakeAttempts)
                {
                    InFlight = false;
                    GivenUp = true;
                    RelaySprayAt = 0;
                    step |= HandshakeStep.GiveUp;
                }
                else
                {
                    _backoff = Math.Min(_backoff * 2, _timings.MaxBackoff);

                    // A retry goes to every path, the relay included: the relayed copies of the first attempt would
                    // only double it.
                    step = (step & ~HandshakeStep.SprayRelayed) | HandshakeStep.Retry;
                }
            }
            else if (_earlyAt != 0 && now >= _earlyAt)
            {
                _earlyAt = 0;
                _earlySend = true;
                step = (step & ~HandshakeStep.SprayRelayed) | HandshakeStep.Retry;
            }

            return step;
        }

        if (Deferred && canSend && now >= NotBefore)
        {
            Deferred = false;
            return HandshakeStep.BeginDeferred;
        }

        return HandshakeStep.None;
    }

    /// <summary>
    /// The earliest time <see cref="Tick"/> has something to do (<see cref="long.MinValue"/>: at once, e.g. to resume
    /// after an abandoned initiation; <see cref="long.MaxValue"/>: nothing until an event). Issue 14: the node's timer
    /// sleeps until the earliest deadline of all links instead of ticking.
    /// </summary>
    public long NextDue(bool canSend)
    {
        if (_resumeAfterAbandon)
        {
            return long.MinValue;
        }

        if (InFlight)
        {
            long due = NextRetryAt;
            if (RelaySprayAt != 0)
            {
                due = Math.Min(due, RelaySprayAt);
            }

            if (_earlyAt != 0)
            {
                due = Math.Min(due, _earlyAt);
            }

            return due;
        }

        return Deferred && canSend ? NotBefore : long.MaxValue;
    }

    /// <summary>Our initiation was answered: a session exists.</summary>
    public void OnCompleted()
    {
        _resumeAfterAbandon = false;
        InFlight = false;
        Attempts = 0;
        _counted = 0;
        _earlyAt = 0;
        GivenUp = false;
        EverConnected = true;
    }

    /// <summary>The pending initiation was dropped without an answer (the peer's won, or the link closed).</summary>
    public void OnAbandoned()
    {
        InFlight = false;
        _earlyAt = 0;
        _earlySend = false;
        _resumeAfterAbandon = true;
        RelaySprayAt = 0;
    }

    /// <summary>The peer's initiation was accepted: it is handshaking, so ours is no longer wanted.</summary>
    public void OnPeerInitiated() => Deferred = false;

    /// <summary>Authenticated traffic arrived: the peer is reachable again, and with a session the link has connected.</summary>
    public void OnHeard(bool connected)
    {
        GivenUp = false;
        EverConnected |= connected;
        if (connected && !InFlight)
        {
            // A confirmed session: nothing to resume after an abandoned initiation.
            _resumeAfterAbandon = false;
            Deferred = false;
        }
    }

    /// <summary>The link was (re)started with candidates: a link that gave up may try again.</summary>
    public void Restart() => GivenUp = false;
}
