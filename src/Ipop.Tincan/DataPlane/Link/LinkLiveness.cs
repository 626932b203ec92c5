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

    /// <summary>Evaluates with the times recorded in <paramref name="activity"/>.</summary>
    public LivenessVerdict Evaluate(long now, long created, LinkActivity activity) =>
        Evaluate(now, created, activity.LastSent, activity.LastReceived, activity.LastDataReceived, activity.FirstUnansweredSend);
}
