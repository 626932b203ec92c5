namespace Ipop.Controllers.GroupVpn.Topology;

/// <summary>
/// Direct links between members that actually talk, beside the structured ones (IPOP's and EdgeVPN's on-demand
/// links): traffic towards a member is counted per one-second window, a member whose rate reaches the threshold
/// becomes wanted while there is room under the cap, and a wanted member that has been silent for the idle time is
/// reaped. Time is passed in, so tests and the simulator drive it without a clock; nothing allocates once a member
/// has been seen.
/// </summary>
internal sealed class OnDemandLinks
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);
    private readonly Dictionary<ulong, Entry> _entries = [];
    private readonly int _packetsPerSecond;
    private readonly TimeSpan _idle;

    /// <summary>An on-demand set.</summary>
    /// <param name="packetsPerSecond">Packets in one second towards a member that make a direct link worth it.</param>
    /// <param name="idle">Silence after which an on-demand link is reaped.</param>
    /// <param name="maxLinks">The cap: at most this many on-demand links at once.</param>
    public OnDemandLinks(int packetsPerSecond, TimeSpan idle, int maxLinks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(packetsPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(idle, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(maxLinks);
        _packetsPerSecond = packetsPerSecond;
        _idle = idle;
        MaxLinks = maxLinks;
    }

    /// <summary>The cap.</summary>
    public int MaxLinks { get; }

    /// <summary>How many members are wanted now.</summary>
    public int Count { get; private set; }

    /// <summary>Times a member reached the threshold while the set was full (it stays relayed).</summary>
    public long RefusedAtCap { get; private set; }

    /// <summary>Whether <paramref name="member"/> has an on-demand link.</summary>
    public bool Contains(ulong member) => _entries.TryGetValue(member, out Entry e) && e.Wanted;

    /// <summary>Counts <paramref name="packets"/> sent towards <paramref name="member"/> (relayed or direct).</summary>
    /// <returns><c>true</c> when this made the member wanted: the caller starts the link.</returns>
    public bool Record(ulong member, int packets, TimeSpan now)
    {
        ref Entry e = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_entries, member, out bool existed);
        if (!existed || now - e.WindowStart >= Window)
        {
            e.WindowStart = now;
            e.WindowPackets = 0;
        }

        e.WindowPackets += packets;
        e.LastPacket = now;
        if (e.Wanted || e.WindowPackets < _packetsPerSecond)
        {
            return false;
        }

        if (Count >= MaxLinks)
        {
            RefusedAtCap++;
            e.WindowPackets = 0; // counted once per window, not once per packet over the threshold
            return false;
        }

        e.Wanted = true;
        Count++;
        return true;
    }

    /// <summary>Forgets members silent for the idle time; reaped links are written to <paramref name="reaped"/>.</summary>
    /// <returns>How many wanted members were reaped (at most the length of <paramref name="reaped"/>; call again
    /// for the rest).</returns>
    public int Reap(TimeSpan now, Span<ulong> reaped)
    {
        int count = 0;
        foreach ((ulong member, Entry e) in _entries)
        {
            if (now - e.LastPacket < _idle || (e.Wanted && count == reaped.Length))
            {
                continue;
            }

            if (e.Wanted)
            {
                reaped[count++] = member;
                Count--;
            }

            _entries.Remove(member); // allowed while enumerating a Dictionary since .NET Core 3.0
        }

        return count;
    }

    /// <summary>Forgets <paramref name="member"/> (it left the group).</summary>
    public void Remove(ulong member)
    {
        if (_entries.Remove(member, out Entry e) && e.Wanted)
        {
            Count--;
        }
    }

    private struct Entry
    {
        public TimeSpan WindowStart;
        public int WindowPackets;
        public TimeSpan LastPacket;
        public bool Wanted;
    }
}
