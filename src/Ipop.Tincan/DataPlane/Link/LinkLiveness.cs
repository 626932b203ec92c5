namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// Keepalive, rekey, expiry and dead-peer timing of a link's current session (WireGuard sections 6.2-6.5 ideas,
/// with a faster broken-path rule). Pure: the caller passes the clock and the <see cref="LinkActivity"/> times in.
/// </summary>
/// <remarks>
/// The side that does not own rekeying (the higher key) is late by one handshake timeout on rekeys and dead-peer
/// handshakes, so the two sides do not start them at the same time.
/// </remarks>
internal sealed class LinkLiveness
{
    private readonly LinkTimings _timings;
    private readonly bool _prefersInitiating;

    public LinkLiveness(LinkTimings timings, bool prefersInitiating)
    {
        _timings = timings;
        _prefersInitiating = prefersInitiating;
    }

    /// <summary>True when a session created at <paramref name="created"/> may no longer be used.</summary>
    public bool IsExpired(long now, long created) => now - created >= _timings.RejectAfter;

    /// <summary>What is due at <paramref name="now"/> for a session created at <paramref name="created"/>.</summary>
    public LivenessVerdict Evaluate(long now, long created, long lastSent, long lastReceived, long lastDataReceived, long firstUnansweredSend)
    {
        long age = now - created;
        if (age >= _timings.RejectAfter)
        {
            return new LivenessVerdict(Expired: true, Rekey: false, Keepalive: false, Broken: false, Silent: 0);
        }

        long rekeyAt = _prefersInitiating ? _timings.RekeyAfterTime : _timings.FallbackRekeyAfter;
        long idleFor = now - lastSent;

        // Persistent keepalive (NAT mappings, liveness) and, while the peer sends us data and we have nothing to
        // send back, a passive one so that the peer can tell a broken path within seconds.
        bool keepalive = idleFor >= _timings.Keepalive || (lastDataReceived > lastSent && idleFor >= _timings.PassiveKeepalive);
        long silent = now - Math.Max(lastReceived, created);
        long lateBy = _prefersInitiating ? 0 : _timings.HandshakeTimeout;
        bool broken = silent >= _timings.DeadPeer + lateBy
            || (firstUnansweredSend != 0 && now - firstUnansweredSend >= _timings.Unanswered + lateBy && silent >= _timings.Unanswered + lateBy);
        return new LivenessVerdict(Expired: false, Rekey: age >= rekeyAt, keepalive, broken, silent);
    }

    /// <summary>
    /// The earliest time <see cref="Evaluate(long, long, long, long, long, long)"/> can return something for a session
    /// created at <paramref name="created"/>, given the times recorded so far (issue 14: the timer sleeps until then).
    /// A later packet can only move it later, except the two deadlines a packet thread starts (an unanswered send, data
    /// to answer with a passive keepalive): those call the node's timer themselves.
    /// <paramref name="canBegin"/>: a handshake could start (rekeys and broken-path handshakes are not due otherwise;
    /// the handshake's own deadlines cover the time until then).
    /// <paramref name="keepaliveAttempted"/>: when a keepalive was last tried, so one that could not go out (no path)
    /// is tried again a keepalive interval later instead of at once.
    /// </summary>
    public long NextDue(long created, LinkActivity activity, bool canBegin, long keepaliveAttempted)
    {
        ArgumentNullException.ThrowIfNull(activity);
        long due = created + _timings.RejectAfter;
        long lastSent = Math.Max(activity.LastSent, keepaliveAttempted);
        long keepaliveAt = lastSent + (activity.LastDataReceived > activity.LastSent ? _timings.PassiveKeepalive : _timings.Keepalive);
        due = Math.Min(due, keepaliveAt);
        if (canBegin)
        {
            long lateBy = _prefersInitiating ? 0 : _timings.HandshakeTimeout;
            long heard = Math.Max(activity.LastReceived, created);
            due = Math.Min(due, created + (_prefersInitiating ? _timings.RekeyAfterTime : _timings.FallbackRekeyAfter));
            due = Math.Min(due, heard + _timings.DeadPeer + lateBy);
            long unanswered = activity.FirstUnansweredSend;
            if (unanswered != 0)
            {
                due = Math.Min(due, Math.Max(unanswered, heard) + _timings.Unanswered + lateBy);
            }
        }

        return due;
    }

    /// <summary>
    /// The earliest time data first sent at <paramref name="firstUnansweredSend"/> can count as unanswered (the real
    /// time is later when something was heard since): the send path wakes the timer for it.
    /// </summary>
    public long UnansweredDue(long firstUnansweredSend) =>
        firstUnansweredSend + _timings.Unanswered + (_prefersInitiating ? 0 : _timings.HandshakeTimeout);

    /// <summary>
    /// True when the persistent keepalive is due within <paramref name="early"/>: a tick that runs anyway sends it now
    /// rather than waking again shortly after, so the keepalives of a node's idle links line up on one wakeup.
    /// </summary>
    public bool KeepaliveDueWithin(long now, long lastSent, long early) => now - lastSent >= _timings.Keepalive - early;

    /// <summary>Evaluates with the times recorded in <paramref name="activity"/>.</summary>
    public LivenessVerdict Evaluate(long now, long created, LinkActivity activity) =>
        Evaluate(now, created, activity.LastSent, activity.LastReceived, activity.LastDataReceived, activity.FirstUnansweredSend);
}
