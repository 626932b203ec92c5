namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// Packets read from the TUN for a friend whose on-demand link is not up yet: kept (copied) until the link connects,
/// then sent through it, so the first packet of a flow (a ping, a TCP SYN) is answered instead of lost and retried
/// seconds later. Bounded per friend and in total, and each packet only for the hold time; what does not fit or
/// waits too long is dropped and counted.
/// </summary>
/// <remarks>
/// Any thread: the NIC thread holds, the link-status event releases, the controller loop expires. A lock is fine:
/// only packets for a friend without a working link come here (a copy per packet, a few per flow), never the steady
/// state, whose packets go straight to the link.
/// </remarks>
internal sealed class HeldPackets(int perFriend, int total, TimeSpan holdFor, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly Dictionary<PeerId, Queue<Held>> _byFriend = [];
    private int _count;
    private long _held;
    private long _sent;
    private long _expired;
    private long _overflow;

    /// <summary>Packets held so far.</summary>
    public long HeldCount => Interlocked.Read(ref _held);

    /// <summary>Held packets sent once their link was up.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Held packets dropped because their link was not up within the hold time (or the friend went away).</summary>
    public long Expired => Interlocked.Read(ref _expired);

    /// <summary>Packets dropped because the bounds were reached.</summary>
    public long Overflow => Interlocked.Read(ref _overflow);

    /// <summary>Packets held now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Keeps a copy of <paramref name="packet"/> for <paramref name="friend"/>, unless a bound is reached.</summary>
    /// <param name="friend">Whose link the packet waits for.</param>
    /// <param name="packet">The packet, ready to send (SocialVPN sends untranslated: the receiver translates).</param>
    /// <param name="first">Whether nothing was held for this friend before: a new wish for its link.</param>
    /// <returns>Whether the packet is held (otherwise it was dropped and counted).</returns>
    public bool Hold(PeerId friend, ReadOnlySpan<byte> packet, out bool first)
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_gate)
        {
            if (!_byFriend.TryGetValue(friend, out Queue<Held>? queue))
            {
                queue = new Queue<Held>(Math.Min(perFriend, 8));
                _byFriend[friend] = queue;
            }

            ExpireLocked(queue, now);
            first = queue.Count == 0;
            if (queue.Count >= perFriend || _count >= total)
            {
                Interlocked.Increment(ref _overflow);
                return false;
            }

            queue.Enqueue(new Held(packet.ToArray(), now + holdFor));
            _count++;
            Interlocked.Increment(ref _held);
            return true;
        }
    }

    /// <summary>Sends what is held for the link's friend through <paramref name="link"/>, oldest first.</summary>
    /// <returns>How many were sent.</returns>
    public int Release(ITincanLink link)
    {
        Held[] due;
        DateTimeOffset now = time.GetUtcNow();
        lock (_gate)
        {
            if (!_byFriend.Remove(link.Peer, out Queue<Held>? queue))
            {
                return 0;
            }

            ExpireLocked(queue, now);
            _count -= queue.Count;
            due = [.. queue];
        }

        int sent = 0;
        foreach (Held h in due)
        {
            if (link.TrySend(h.Packet))
            {
                sent++;
            }
            else
            {
                Interlocked.Increment(ref _expired); // the link went down again between its event and this send
            }
        }

        Interlocked.Add(ref _sent, sent);
        return sent;
    }

    /// <summary>Drops what waited longer than the hold time.</summary>
    /// <param name="expired">The friends whose packets were dropped now, with how many.</param>
    /// <returns>When the next held packet expires, or <c>null</c> if none is held.</returns>
    public DateTimeOffset? Expire(List<(PeerId Friend, int Dropped)> expired)
    {
        DateTimeOffset now = time.GetUtcNow();
        DateTimeOffset? next = null;
        lock (_gate)
        {
            List<PeerId>? empty = null;
            foreach ((PeerId friend, Queue<Held> queue) in _byFriend)
            {
                int dropped = ExpireLocked(queue, now);
                if (dropped > 0)
                {
                    expired.Add((friend, dropped));
                }

                if (queue.Count == 0)
                {
                    (empty ??= []).Add(friend);
                }
                else if (next is null || queue.Peek().Until < next)
                {
                    next = queue.Peek().Until;
                }
            }

            foreach (PeerId friend in empty ?? [])
            {
                _byFriend.Remove(friend);
            }
        }

        return next;
    }

    /// <summary>Drops everything held for <paramref name="friend"/> (it went offline or is no longer a friend).</summary>
    public int Forget(PeerId friend)
    {
        lock (_gate)
        {
            if (!_byFriend.Remove(friend, out Queue<Held>? queue))
            {
                return 0;
            }

            _count -= queue.Count;
            Interlocked.Add(ref _expired, queue.Count);
            return queue.Count;
        }
    }

    /// <summary>Whether anything is held for <paramref name="friend"/> (a link on its way is not idle).</summary>
    public bool IsHolding(PeerId friend)
    {
        lock (_gate)
        {
            return _byFriend.TryGetValue(friend, out Queue<Held>? q) && q.Count > 0;
        }
    }

    private int ExpireLocked(Queue<Held> queue, DateTimeOffset now)
    {
        int dropped = 0;
        while (queue.TryPeek(out Held h) && h.Until <= now)
        {
            queue.Dequeue();
            dropped++;
        }

        _count -= dropped;
        Interlocked.Add(ref _expired, dropped);
        return dropped;
    }

    private readonly record struct Held(byte[] Packet, DateTimeOffset Until);
}
