using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// When a link last sent and heard what, written lock-free by the packet threads and read by the timer through
/// <see cref="LinkLiveness"/>. Times are <see cref="TimeProvider.GetTimestamp"/> ticks; 0 means never.
/// </summary>
internal sealed class LinkActivity
{
    private long _lastSent;
    private long _lastReceived;
    private long _lastDataReceived;
    private long _firstUnansweredSend;

    /// <summary>When anything (a keepalive too) last went out on the path in use.</summary>
    public long LastSent => Volatile.Read(ref _lastSent);

    /// <summary>When anything authenticated last arrived.</summary>
    public long LastReceived => Volatile.Read(ref _lastReceived);

    /// <summary>When data (not a keepalive) last arrived, for the passive keepalive.</summary>
    public long LastDataReceived => Volatile.Read(ref _lastDataReceived);

    /// <summary>When we first sent data after the last thing we heard from the peer; 0 once anything arrives.</summary>
    public long FirstUnansweredSend => Volatile.Read(ref _firstUnansweredSend);

    /// <summary>A datagram of <paramref name="kind"/> went out on the path in use.</summary>
    /// <returns>
    /// True when it started the unanswered-send deadline (the first data after the last thing heard): the caller wakes
    /// the timer for it. The write is then a full fence, so the caller's read of the timer's armed time cannot move
    /// before it (a timer that is evaluating right now either sees the new time or is seen armed too late).
    /// </returns>
    public bool OnSent(long now, ContentKind kind)
    {
        Volatile.Write(ref _lastSent, now);
        if (kind != ContentKind.Keepalive && Volatile.Read(ref _firstUnansweredSend) == 0)
        {
            Interlocked.Exchange(ref _firstUnansweredSend, now);
            return true;
        }

        return false;
    }

    /// <summary>An authenticated datagram of <paramref name="kind"/> arrived.</summary>
    /// <returns>
    /// True when it started the passive-keepalive deadline (the first data since this side last sent): the caller
    /// wakes the timer for it (with a full fence, as for <see cref="OnSent"/>).
    /// </returns>
    public bool OnReceived(long now, ContentKind kind)
    {
        Volatile.Write(ref _lastReceived, now);
        if (Volatile.Read(ref _firstUnansweredSend) != 0)
        {
            Volatile.Write(ref _firstUnansweredSend, 0);
        }

        // Path MTU probes and their answers are no data to answer with a passive keepalive.
        if (kind is not (ContentKind.Keepalive or ContentKind.Probe or ContentKind.ProbeAck))
        {
            if (Volatile.Read(ref _lastDataReceived) > Volatile.Read(ref _lastSent))
            {
                // A passive keepalive is already pending: its deadline (from the last send) does not move.
                Volatile.Write(ref _lastDataReceived, now);
                return false;
            }

            Interlocked.Exchange(ref _lastDataReceived, now);
            return true;
        }

        return false;
    }

    /// <summary>A handshake completed: the peer answered.</summary>
    public void OnHandshakeCompleted(long now) => Volatile.Write(ref _lastReceived, now);
}
