namespace Ipop.Simulator;

/// <summary>
/// The real engine's virtual clock: a <see cref="TimeProvider"/> that moves only when <see cref="Advance"/> says and
/// fires due timers on the caller's thread, earliest first (then in the order they were set), as
/// <c>FakeTimeProvider</c> does. It keeps its timers in a priority queue: <c>FakeTimeProvider</c> scans every timer
/// for each one it fires and at each <c>ITimer.Change</c>, and a thousand members re-arm a few thousand timers every
/// virtual second, which made the clock alone O(N²) per second.
/// </summary>
internal sealed class SimClock(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly PriorityQueue<Timer, (long Due, long Sequence)> _queue = new();
    private long _now = start.UtcTicks;
    private long _sequence;
    private bool _firing;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return new DateTimeOffset(_now, TimeSpan.Zero);
        }
    }

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    /// <inheritdoc />
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock by <paramref name="delta"/> and fires every timer due by then.</summary>
    public void Advance(TimeSpan delta)
    {
        lock (_gate)
        {
            _now += delta.Ticks;
        }

        FireDue();
    }

    private void Set(Timer timer, TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            timer.Sequence = ++_sequence; // an entry already queued for it is stale from now on
            timer.Period = period;
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                _queue.Enqueue(timer, (_now + Math.Max(0, dueTime.Ticks), timer.Sequence));
            }
        }

        FireDue(); // a timer due at once fires now (unless a callback set it: the running loop fires it next)
    }

    private void Cancel(Timer timer)
    {
        lock (_gate)
        {
            timer.Sequence = ++_sequence;
        }
    }

    private void FireDue()
    {
        lock (_gate)
        {
            if (_firing)
            {
                return;
            }

            _firing = true;
        }

        try
        {
            while (true)
            {
                Timer timer;
                lock (_gate)
                {
                    if (!_queue.TryPeek(out timer!, out (long Due, long Sequence) next) || next.Due > _now)
                    {
                        return;
                    }

                    _queue.Dequeue();
                    if (next.Sequence != timer.Sequence)
                    {
                        continue; // changed or disposed since it was queued
                    }

                    if (timer.Period > TimeSpan.Zero && timer.Period != Timeout.InfiniteTimeSpan)
                    {
                        timer.Sequence = ++_sequence;
                        _queue.Enqueue(timer, (next.Due + timer.Period.Ticks, timer.Sequence));
                    }
                }

                timer.Callback(timer.State);
            }
        }
        finally
        {
            lock (_gate)
            {
                _firing = false;
            }
        }
    }

    private sealed class Timer(SimClock clock, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;

        public object? State { get; } = state;

        public long Sequence { get; set; }

        public TimeSpan Period { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            clock.Set(this, dueTime, period);
            return true;
        }

        public void Dispose() => clock.Cancel(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
