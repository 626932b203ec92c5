namespace Ipop.Tincan.DataPlane.Mtu;

/// <summary>
/// Datagram Packetization Layer Path MTU Discovery (RFC 8899) for one link, as a pure state machine: time is passed
/// in, it does no I/O, and it speaks in payload sizes (the largest inner packet a probe of that size proves the path
/// carries). The link sends the probes it asks for and feeds back the acknowledgments.
/// </summary>
/// <remarks>
/// <para>
/// A round is a set of probes sent together: the size already confirmed (a control) and candidates spread over the
/// range still unknown, so the search narrows the range by a factor of <see cref="PathMtuSettings.ProbesPerRound"/>
/// per probe timeout instead of halving it per MAX_PROBES timeouts. The first round (Base state, section 5.2) holds
/// the base size and the largest size, so an unconstrained path completes in one round trip. A candidate counts as
/// too large only when a probe of the same round that was smaller got through, so a random loss does not shrink the
/// MTU; a round where nothing at all returns is sent again, up to MAX_PROBES times.
/// </para>
/// <para>
/// Black holes (section 4.3): after the search, the confirmed size is probed again every confirm interval while
/// traffic larger than the base size flows; MAX_PROBES lost confirmations drop the link to the base size and search
/// again. The raise timer (PMTU_RAISE_TIMER, section 5.1.1) searches above the confirmed size again later, also only
/// while such traffic flows, so an idle link sends no probe.
/// </para>
/// </remarks>
internal sealed class PathMtuProber
{
    private readonly PathMtuSettings _settings;
    private readonly int[] _round;
    private int _roundCount;
    private int _acked;
    private bool _inFlight;
    private long _roundSentAt;
    private int _silentRounds;
    private int _base;
    private int _max;
    private int _low;
    private int _high;
    private long _nextConfirm;
    private long _nextRaise;
    private long _searchStarted;
    private bool _trafficSeen;
    private bool _optimistic;

    public PathMtuProber(PathMtuSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.ProbesPerRound, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(settings.ProbesPerRound, 31);
        _settings = settings;
        _round = new int[settings.ProbesPerRound];
        State = settings.Enabled ? PathMtuState.Base : PathMtuState.Disabled;
    }

    /// <summary>Where the search is.</summary>
    public PathMtuState State { get; private set; }

    /// <summary>The largest payload known (or, before any answer, assumed) to cross the path.</summary>
    public int Current { get; private set; }

    /// <summary>
    /// The largest payload to send rather than refuse: <see cref="Current"/>, except during the first round on a new
    /// path, when nothing was seen lost yet and refusing would make senders cache a smaller MTU for minutes (Linux
    /// keeps a learned path MTU for 10) on a path that may well carry everything. A TCP SYN is still clamped to
    /// <see cref="Current"/>.
    /// </summary>
    public int Limit => _optimistic ? _max : Current;

    /// <summary>The size every path is assumed to carry (from <see cref="Reset"/>).</summary>
    public int Base => _base;

    /// <summary>The largest size worth probing (from <see cref="Reset"/>).</summary>
    public int Max => _max;

    /// <summary>Identifies the round in flight; acknowledgments of other rounds are ignored.</summary>
    public uint RoundId { get; private set; }

    /// <summary>Ticks the last completed search took, from its start (or restart) to its end; -1 before the first.</summary>
    public long LastSearchTicks { get; private set; } = -1;

    /// <summary>Black holes detected so far (confirmations lost MAX_PROBES times in a row).</summary>
    public int BlackHoles { get; private set; }

    /// <summary>
    /// Starts over on a new path: <paramref name="basePayload"/> is assumed to fit (the RFC's BASE_PLPMTU less the
    /// path's overhead) and <paramref name="maxPayload"/> is the largest payload the tunnel ever needs.
    /// </summary>
    public void Reset(long now, int basePayload, int maxPayload)
    {
        _base = Math.Min(basePayload, maxPayload);
        _max = maxPayload;
        _inFlight = false;
        _silentRounds = 0;
        _trafficSeen = false;
        if (State == PathMtuState.Disabled)
        {
            Current = maxPayload;
            return;
        }

        StartSearch(now, PathMtuState.Base);
        _optimistic = true;
    }

    /// <summary>Traffic larger than the base size went out since the last tick (it is what a black hole would eat).</summary>
    public void OnFullSizeTraffic() => _trafficSeen = true;

    /// <summary>
    /// Advances the timers and says which probes to send now: writes their sizes to <paramref name="sizes"/> (room
    /// for <see cref="PathMtuSettings.ProbesPerRound"/>), all to be sent with <see cref="RoundId"/>.
    /// </summary>
    /// <returns>How many probes to send (0: none).</returns>
    public int Tick(long now, Span<int> sizes)
    {
        if (State == PathMtuState.Disabled || _max == 0)
        {
            return 0;
        }

        if (_inFlight)
        {
            if (now - _roundSentAt < _settings.ProbeTimeout)
            {
                return 0;
            }

            if (!RoundTimedOut(now))
            {
                return Send(now, sizes);
            }
        }

        switch (State)
        {
            case PathMtuState.Base:
            case PathMtuState.Searching:
                return NextRound(now, sizes);
            case PathMtuState.SearchComplete when _trafficSeen && now >= _nextRaise && _low < _max:
                _high = _max + 1;
                StartSearch(now, PathMtuState.Searching);
                return NextRound(now, sizes);
            case PathMtuState.SearchComplete when _trafficSeen && now >= _nextConfirm && _low > _base:
                _trafficSeen = false;
                _round[0] = _low;
                _roundCount = 1;
                return Send(now, sizes);
            case PathMtuState.Error when _trafficSeen && now >= _nextRaise:
                StartSearch(now, PathMtuState.Base);
                return NextRound(now, sizes);
            default:
                return 0;
        }
    }

    /// <summary>
    /// The earliest time <see cref="Tick"/> may send something (<see cref="long.MinValue"/>: at once; <see
    /// cref="long.MaxValue"/>: not before an event). <paramref name="trafficSeen"/>: full-size traffic went out that
    /// <see cref="OnFullSizeTraffic"/> was not told of yet. An idle link's prober is never due: confirmations and
    /// raises only run while full-size traffic flows (issue 14).
    /// </summary>
    public long NextDue(bool trafficSeen)
    {
        if (State == PathMtuState.Disabled || _max == 0)
        {
            return long.MaxValue;
        }

        if (_inFlight)
        {
            return _roundSentAt + _settings.ProbeTimeout;
        }

        trafficSeen |= _trafficSeen;
        return State switch
        {
            PathMtuState.Base or PathMtuState.Searching => long.MinValue,
            PathMtuState.SearchComplete when trafficSeen => Math.Min(_low < _max ? _nextRaise : long.MaxValue, _low > _base ? _nextConfirm : long.MaxValue),
            PathMtuState.Error when trafficSeen => _nextRaise,
            _ => long.MaxValue,
        };
    }

    /// <summary>
    /// When the prober is next due if full-size traffic goes out from now on: the packet thread that sees the first such
    /// packet wakes the node's timer for it.
    /// </summary>
    public long NextDueWithTraffic() => NextDue(trafficSeen: true);

    /// <summary>An acknowledgment of a probe of <paramref name="size"/> in round <paramref name="roundId"/> arrived.</summary>
    /// <returns><c>true</c> if it ended the round (the caller may <see cref="Tick"/> at once for the next).</returns>
    public bool OnAck(long now, uint roundId, int size)
    {
        if (!_inFlight || roundId != RoundId)
        {
            return false;
        }

        int index = Array.IndexOf(_round, size, 0, _roundCount);
        if (index < 0 || (_acked & (1 << index)) != 0)
        {
            return false;
        }

        _acked |= 1 << index;
        _silentRounds = 0;
        if (size > _low)
        {
            // Confirmed: safe to use at once, before the round ends.
            _low = size;
            Current = size;
        }

        if (_acked != (1 << _roundCount) - 1)
        {
            return false;
        }

        _inFlight = false;
        _optimistic = false;
        if (State == PathMtuState.SearchComplete)
        {
            // A confirmation came back.
            _nextConfirm = now + _settings.ConfirmInterval;
        }
        else if (State == PathMtuState.Base)
        {
            State = PathMtuState.Searching;
        }

        return true;
    }

    // The round's timer expired. Returns false when the round must be sent again (nothing came back).
    private bool RoundTimedOut(long now)
    {
        _inFlight = false;
        _optimistic = false;
        if (_acked != 0)
        {
            // Something got through, so what is missing above it was too large for the path (not a random loss).
            for (int i = 0; i < _roundCount; i++)
            {
                if ((_acked & (1 << i)) == 0 && _round[i] > _low && _round[i] < _high)
                {
                    _high = _round[i];
                }
            }

            if (State == PathMtuState.Base)
            {
                State = PathMtuState.Searching;
            }

            return true;
        }

        if (++_silentRounds < _settings.MaxProbes)
        {
            return false;
        }

        _silentRounds = 0;
        if (State == PathMtuState.SearchComplete || (State == PathMtuState.Searching && _low > _base))
        {
            // A black hole: the size that worked no longer does (section 4.3). Back to the base size, and search.
            BlackHoles++;
            _low = _base;
            Current = _base;
            _high = _max + 1;
            StartSearch(now, PathMtuState.Base);
            return true;
        }

        // Not even the base size came back (or the peer does not answer probes): keep the base size, try later.
        _low = _base;
        Current = _base;
        State = PathMtuState.Error;
        _nextRaise = now + _settings.RaiseInterval;
        _nextConfirm = long.MaxValue;
        return true;
    }

    private void StartSearch(long now, PathMtuState state)
    {
        State = state;
        _searchStarted = now;
        _trafficSeen = false;
        if (state == PathMtuState.Base)
        {
            _low = _base;
            _high = _max + 1;
            Current = _base;
        }
    }

    private int NextRound(long now, Span<int> sizes)
    {
        if (State == PathMtuState.Base)
        {
            _round[0] = _base;
            _roundCount = 1;
            if (_max > _base)
            {
                _round[1] = _max;
                _roundCount = 2;
            }

            return Send(now, sizes);
        }

        if (_high - _low <= 1)
        {
            State = PathMtuState.SearchComplete;
            Current = _low;
            LastSearchTicks = now - _searchStarted;
            _nextConfirm = now + _settings.ConfirmInterval;
            _nextRaise = _low < _max ? now + _settings.RaiseInterval : long.MaxValue;
            return 0;
        }

        // The control (the size confirmed) and k candidates at equal steps strictly inside (low, high).
        int k = Math.Min(_round.Length - 1, _high - _low - 1);
        _round[0] = _low;
        for (int j = 1; j <= k; j++)
        {
            _round[j] = _low + (int)((long)(_high - _low) * j / (k + 1));
        }

        _roundCount = k + 1;
        return Send(now, sizes);
    }

    private int Send(long now, Span<int> sizes)
    {
        RoundId++;
        _acked = 0;
        _inFlight = true;
        _roundSentAt = now;
        _round.AsSpan(0, _roundCount).CopyTo(sizes);
        return _roundCount;
    }
}
