namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// Which path a link uses (RFC 8445 section 5.1.2.1 type preferences): a relayed link moves to a direct path as soon
/// as one authenticates; a direct link falls back to the relay only when direct went silent; a direct path follows
/// the peer's address (NAT rebinding). While relayed it probes the direct candidates with a backoff.
/// </summary>
/// <remarks>
/// Pure and clock-driven: it decides, the link switches. <see cref="OnDirectReceived"/> is written by the receive
/// thread without a lock; the rest is called by the link's owner, serialized.
/// </remarks>
internal sealed class PathSelector
{
    private readonly LinkTimings _timings;
    private long _lastDirectReceived;
    private long _nextProbeAt;
    private long _probeInterval;

    public PathSelector(LinkTimings timings) => _timings = timings;

    /// <summary>When an authenticated datagram last arrived over a direct path.</summary>
    public long LastDirectReceived => Volatile.Read(ref _lastDirectReceived);

    /// <summary>Receive thread: authenticated traffic arrived over the direct path in use.</summary>
    public void OnDirectReceived(long now) => Volatile.Write(ref _lastDirectReceived, now);

    /// <summary>
    /// An authenticated datagram arrived (<paramref name="handshake"/>: a handshake message, else transport data).
    /// <paramref name="current"/> is the kind of the path in use (null: none yet); <paramref name="arrivalIsCurrent"/>
    /// says the datagram came over exactly that path (the same relay, or the same address).
    /// </summary>
    public PathVerdict Observe(LinkPath? current, PathArrival arrival, bool arrivalIsCurrent, long now, bool handshake)
    {
        if (arrival == PathArrival.Direct)
        {
            OnDirectReceived(now);
            return current is { } kind && kind != LinkPath.Relayed ? PathVerdict.Follow : PathVerdict.Adopt;
        }

        if (current is { } inUse && inUse != LinkPath.Relayed)
        {
            // Direct still works unless it has been silent: for a handshake through the relay, one handshake timeout
            // (the peer only sends one there when its direct copy went unanswered); for data, longer than a
            // keepalive interval, since a healthy idle direct path carries a keepalive at least that often.
            long silentFor = now - LastDirectReceived;
            if (silentFor < (handshake ? _timings.HandshakeTimeout : _timings.DirectSilence))
            {
                return PathVerdict.Keep;
            }
        }

        return arrivalIsCurrent ? PathVerdict.Keep : PathVerdict.Adopt;
    }

    /// <summary>Probe the direct candidates at the next tick (the link went relayed, or new candidates arrived).</summary>
    public void ProbeSoon()
    {
        _nextProbeAt = 0;
        _probeInterval = _timings.HandshakeTimeout;
    }

    /// <summary>When <see cref="ProbesDue"/> next returns true for a link on <paramref name="current"/> (never unless relayed).</summary>
    public long NextProbeAt(LinkPath? current) => current == LinkPath.Relayed ? _nextProbeAt : long.MaxValue;

    /// <summary>
    /// True when the link is relayed and a round of keepalives to the peer's direct candidates is due: the first one
    /// that authenticates at the peer moves it (and then us) to the direct path. Backs off to eight handshake
    /// timeouts, since a pair of symmetric NATs may never open a direct path.
    /// </summary>
    public bool ProbesDue(LinkPath? current, long now)
    {
        if (current != LinkPath.Relayed || now < _nextProbeAt)
        {
            return false;
        }

        _probeInterval = Math.Max(_probeInterval, _timings.HandshakeTimeout);
        _nextProbeAt = now + _probeInterval;
        _probeInterval = Math.Min(_probeInterval * 2, _timings.MaxBackoff);
        return true;
    }
}
