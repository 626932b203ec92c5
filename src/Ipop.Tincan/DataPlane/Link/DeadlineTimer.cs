namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// The one timer of a node's links (issue 14: an idle node must not wake up). It is armed for the earliest deadline
/// of any link and fires once; the control loop then evaluates every link and arms it again from what is due next.
/// Nothing ticks while nothing is due.
/// </summary>
/// <remarks>
/// WireGuard's lazy pattern (wireguard-go's timers.go ideas, our own code): packet threads only write timestamps, and
/// a deadline that moved later is found out when the timer fires early and re-arms. Only the two deadlines a packet
/// starts (an unanswered send, data to answer with a passive keepalive) can come earlier than the armed time; the
/// packet thread then calls <see cref="WakeBy"/>, which is a single read unless the timer must indeed move.
/// <para>
/// The race: a packet writes its time (with a full fence) and then reads <see cref="ArmedAt"/>; the timer clears
/// <see cref="ArmedAt"/> (under the lock, a full fence) before the links are evaluated. So either the evaluation sees
/// the packet's time, or the packet sees the cleared timer and arms it itself; a deadline is never lost.
/// </para>
/// </remarks>
internal sealed class DeadlineTimer : IDisposable, IAsyncDisposable
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private readonly Action _onFire;
    private readonly long _slack;
    private long _armedAt = long.MaxValue;
    private long _wakeups;
    private bool _disposed;

    /// <summary>Creates the timer, not armed; <paramref name="onFire"/> runs on a timer thread each time it fires.</summary>
    public DeadlineTimer(TimeProvider time, Action onFire)
    {
        _time = time;
        _onFire = onFire;

        // The system timer counts whole coarse milliseconds (Environment.TickCount64): it can fire a few milliseconds
        // before a Stopwatch deadline, which would cost a second wakeup to re-arm for the rest. A fake clock is exact.
        _slack = ReferenceEquals(time, TimeProvider.System) ? time.TimestampFrequency / 200 : 0;
        _timer = time.CreateTimer(static state => ((DeadlineTimer)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>When the timer fires next (<see cref="TimeProvider.GetTimestamp"/> ticks); <see cref="long.MaxValue"/>: not armed.</summary>
    public long ArmedAt => Volatile.Read(ref _armedAt);

    /// <summary>How often the timer fired (for tests and the footprint measurements).</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>
    /// Any thread: makes sure the timer fires no later than <paramref name="due"/> (<see cref="long.MinValue"/>: at
    /// once). Lock-free (one read) when it already does.
    /// </summary>
    public void WakeBy(long due)
    {
        if (due >= Volatile.Read(ref _armedAt))
        {
            return;
        }

        lock (_lock)
        {
            if (due >= _armedAt || _disposed)
            {
                return;
            }

            _armedAt = due;
            long wait = due == long.MinValue ? 0 : due - _time.GetTimestamp();
            _timer.Change(ToDelay(wait), Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _armedAt = long.MinValue;
        }

        _timer.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            _disposed = true;
            _armedAt = long.MinValue;
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
    }

    private TimeSpan ToDelay(long wait)
    {
        if (wait <= 0)
        {
            return TimeSpan.Zero;
        }

        // Rounded up to whole milliseconds (what the timer counts in), plus the slack of a coarse system clock. At most
        // an hour: the timer then fires early, finds nothing due and re-arms (no overflow for far deadlines).
        long frequency = _time.TimestampFrequency;
        wait = Math.Min(wait, frequency * 3600);
        long milliseconds = (((wait + _slack) * 1000) + frequency - 1) / frequency;
        return TimeSpan.FromMilliseconds(Math.Min(milliseconds, uint.MaxValue - 1L));
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            // Cleared before the links are evaluated: a packet that starts a deadline from now on arms the timer itself.
            _armedAt = long.MaxValue;
        }

        Interlocked.Increment(ref _wakeups);
        _onFire();
    }
}
