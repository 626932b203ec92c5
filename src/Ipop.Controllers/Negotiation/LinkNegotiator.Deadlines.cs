using Ipop.Controllers.Negotiation;

namespace Ipop.Controllers;

/// <summary>
/// Idle at zero (issue 14): no periodic tick. One timer is armed for the earliest real deadline (a retry whose backoff
/// ends, an offer's answer timeout, a crossed request's wait, a link stuck connecting, the outage link lifetime, the
/// reconnect and presence graces, the policy's own next call) whenever the loop runs out of work, and nothing is armed
/// while nothing is due. When it fires, the loop does what the old 1 s tick did (<see cref="HandleTickAsync"/>).
/// </summary>
/// <remarks>
/// Every deadline is computed from the current state, so nothing has to be cancelled: a deadline that moved later is
/// found when the timer fires early once and re-arms. The rules here mirror <see cref="StuckReason"/> and the checks of
/// <see cref="HandleTickAsync"/>; where they might disagree (something still due right after a tick looked at it), the
/// next wakeup waits <see cref="RetryFloor"/>, the old tick's interval, so a disagreement never costs more than the
/// tick did and never spins.
/// </remarks>
public sealed partial class LinkNegotiator
{
    // The old tick's interval: the shortest wait after a tick that found something due and could not act on it.
    private static readonly TimeSpan RetryFloor = TimeSpan.FromSeconds(1);

    // Longest single wait: a far deadline (or a clock that jumped) is re-checked then instead of overflowing the timer.
    private static readonly TimeSpan LongestWait = TimeSpan.FromHours(24);

    private ITimer? _timer;
    private DateTimeOffset _armedFor = DateTimeOffset.MaxValue;
    private DateTimeOffset? _lastTickAt;
    private DateTimeOffset? _policyDueAt;
    private long _wakeups;

    /// <summary>How often the deadline timer fired (tests and footprint measurements count idle wakeups with it).</summary>
    internal long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>When the timer fires next, or <c>null</c> when nothing is due (read on the loop only).</summary>
    internal DateTimeOffset? ArmedFor => _armedFor == DateTimeOffset.MaxValue ? null : _armedFor;

    // The system timer counts coarse milliseconds and can fire a little before the deadline, which would cost a second
    // wakeup to re-arm for the rest (as in Ipop.Tincan's DeadlineTimer). A fake clock is exact.
    private TimeSpan Slack => ReferenceEquals(_time, TimeProvider.System) ? TimeSpan.FromMilliseconds(5) : TimeSpan.Zero;

    private ITimer CreateDeadlineTimer()
    {
        _timer = _time.CreateTimer(static state => ((LinkNegotiator)state!).OnDeadline(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        return _timer;
    }

    // A timer thread: only queues; the loop does the work.
    private void OnDeadline()
    {
        Interlocked.Increment(ref _wakeups);
        _events.Writer.TryWrite(TickEvent.Instance);
    }

    /// <summary>On the loop, when it ran out of work: arms the timer for the earliest deadline, or disarms it.</summary>
    private void ArmForNextDeadline()
    {
        if (_timer is null)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset? next = NextDeadline(now);
        if (next is { } due && _lastTickAt is { } last && due <= last)
        {
            // Due when the last tick looked, and still due: that tick could not act on it.
            next = last + RetryFloor;
        }

        if (next is not { } at)
        {
            if (_armedFor != DateTimeOffset.MaxValue)
            {
                _armedFor = DateTimeOffset.MaxValue;
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }

            return;
        }

        if (at <= now)
        {
            // Due already: queued directly (the loop is awake anyway), so the idle check right after sees it.
            _events.Writer.TryWrite(TickEvent.Instance);
            return;
        }

        if (at != _armedFor)
        {
            _armedFor = at;
            TimeSpan wait = at - now + Slack;
            _timer.Change(wait < LongestWait ? wait : LongestWait, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The earliest time the tick has something to do, or <c>null</c> for never (until an event changes the state).</summary>
    private DateTimeOffset? NextDeadline(DateTimeOffset now)
    {
        DateTimeOffset? next = _policyDueAt;
        if (_outageSince is { } since && !_outageEnded)
        {
            next = Earliest(next, since + _settings.OutageLinkLifetime);
        }

        next = Earliest(next, _graceUntil);
        if (!_signaling.IsConnected)
        {
            return next; // no attempts and no presence decisions while signaling is down: its return re-checks everyone
        }

        foreach (Peer p in _peers.Values)
        {
            if (p.AwayUntil is { } away)
            {
                // A link that stopped being Connected while its peer was away is decided at once.
                next = Earliest(next, p.Link is { Status.State: LinkState.Connected } ? away : now);
            }

            if (!p.Unverified)
            {
                next = Earliest(next, AttemptDue(p));
            }
        }

        return next;
    }

    /// <summary>When <see cref="EvaluateAsync"/> would start a new attempt for <paramref name="p"/>, or <c>null</c> while its link is up (or it is not ours to retry).</summary>
    private DateTimeOffset? AttemptDue(Peer p)
    {
        if (!p.Wanted)
        {
            return null; // never retried from this side (EvaluateAsync)
        }

        DateTimeOffset? stuckFrom;
        if (p.PendingNonce is not null)
        {
            // The same rules as StuckReason: the answer timeout, or a crossed request's wait if that ends first.
            stuckFrom = p.PendingSince + _settings.AnswerTimeout;
            if (p.RequestCrossedAt is { } crossed)
            {
                stuckFrom = Earliest(stuckFrom, crossed + CrossedRequestWait);
            }
        }
        else if (p.Link is null || !_tincan.TryGetLink(p.Id, out ITincanLink? current) || !ReferenceEquals(current, p.Link))
        {
            stuckFrom = DateTimeOffset.MinValue;
        }
        else
        {
            stuckFrom = p.Link.Status.State switch
            {
                LinkState.Connected => null,
                LinkState.Connecting => p.LinkSince + _settings.ConnectTimeout,
                _ => DateTimeOffset.MinValue,
            };
        }

        if (stuckFrom is not { } from)
        {
            return null;
        }

        return from > p.NextAttemptAt ? from : p.NextAttemptAt;
    }

    /// <summary>On the loop, at a tick: the policy's next call is due if <see cref="INegotiationPolicy.OnTick"/> asked for one by now.</summary>
    private void TickPolicyIfDue(DateTimeOffset now)
    {
        if (_policyDueAt is { } due && now >= due)
        {
            TimeSpan? again = _policy.OnTick();
            _policyDueAt = again is { } wait ? now + (wait > TimeSpan.Zero ? wait : RetryFloor) : null;
        }
    }

    /// <summary>
    /// On the loop (from a policy callback or <see cref="Post"/>ed work): the policy needs its next
    /// <see cref="INegotiationPolicy.OnTick"/> by <paramref name="at"/>, earlier than its last answer said (or after it
    /// said never), because its state changed: an on-demand link was just wanted, say. The timer is re-armed when the
    /// loop runs out of work.
    /// </summary>
    internal void CallPolicyBy(DateTimeOffset at) => _policyDueAt = Earliest(_policyDueAt, at);

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : (a.Value <= b.Value ? a : b);
}
