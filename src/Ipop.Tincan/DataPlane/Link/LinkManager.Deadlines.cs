using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The node's one timer (issue 14): armed for the earliest deadline of any link, never ticking while nothing is due.
/// See <see cref="DeadlineTimer"/> and docs/architecture.md (Timers).
/// </summary>
internal sealed partial class LinkManager
{
    // When the links were last evaluated (control loop); long.MinValue before the first time.
    private long _lastTickAt = long.MinValue;

    /// <summary>The timer every link's deadlines share; packet threads call <see cref="DeadlineTimer.WakeBy"/>.</summary>
    internal DeadlineTimer Deadlines { get; }

    /// <summary>
    /// The shortest wait after a wakeup that could not act on something due (a keepalive with no path to send on, a
    /// rekey that cannot start): the old tick's interval, so a stuck deadline never costs more than the tick did.
    /// </summary>
    private long RetryFloor => Time.TimestampFrequency / 10;

    /// <summary>The earliest deadline of any link now (control loop; for tests and diagnostics).</summary>
    internal long NextDeadline()
    {
        long next = long.MaxValue;
        foreach (TincanLink link in _snapshot)
        {
            next = Math.Min(next, link.NextDue());
        }

        return next;
    }

    // Control loop, when every posted step has run (a wakeup's evaluation, a handshake message, a controller call):
    // arms the timer for the earliest deadline unless it is armed earlier already. O(links) per burst of steps.
    private void ArmForNextDeadline()
    {
        if (Mux is null || Volatile.Read(ref _disposed) != 0)
        {
            // Not started: StartAsync wakes the links. Disposed: nothing is due any more.
            return;
        }

        long next = NextDeadline();
        if (next == long.MaxValue)
        {
            return;
        }

        if (_lastTickAt != long.MinValue && next <= _lastTickAt)
        {
            // Due when the last wakeup evaluated the links, and still due: that wakeup could not act on it.
            next = _lastTickAt + RetryFloor;
        }

        Deadlines.WakeBy(next);
    }
}
