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
    public void OnSent(long now, ContentKind kind)
    {
        Volatile.Write(ref _lastSent, now);
        if (kind != ContentKind.Keepalive && Volatile.Read(ref _firstUnansweredSend) == 0)
        {
            Volatile.Write(ref _firstUnansweredSend, now);
        }
    }

    /// <summary>An authenticated datagram of <paramref name="kind"/> arrived.</summary>
    public void OnReceived(long now, ContentKind kind)
    {
        Volatile.Write(ref _lastReceived, now);
        if (Volatile.Read(ref _firstUnansweredSend) != 0)
        {
            Volatile.Write(ref _firstUnansweredSend, 0);
        }

        // Path MTU probes and their answers are no data to answer with a passive keepalive.
        if (kind is not (ContentKind.Keepalive or ContentKind.Probe or ContentKind.ProbeAck))
        {
            Volatile.Write(ref _lastDataReceived, now);
        }
    }

    /// <summary>A handshake completed: the peer answered.</summary>
    public void OnHandshakeCompleted(long now) => Volatile.Write(ref _lastReceived, now);
}
