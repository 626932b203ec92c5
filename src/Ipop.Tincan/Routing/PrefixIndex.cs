using System.Net;
using System.Numerics;

namespace Ipop.Tincan;

/// <summary>
/// The entries of one address family in a <see cref="RouteTable"/> snapshot, indexed for longest-prefix match at the
/// scale of a big group (issue 16): full-length prefixes (/32, /128, a member's address: nearly every route of a
/// structured group, one per member and family) in an open-addressing hash table, the few shorter prefixes (a subnet,
/// the overlay's unreachable prefix, a default route) in an array scanned longest first. A full-length match is the
/// longest there can be, so the scan only runs on a miss.
/// </summary>
/// <remarks>
/// <para>
/// Immutable: a write returns a new index that shares the entries (so their counters) and copies only the array it
/// changes, a memory copy of at most a few tens of kilobytes at thousands of routes; readers never lock and a lookup
/// allocates nothing.
/// </para>
/// <para>
/// The hash table uses linear probing at a load of at most one half, so a lookup that misses ends after two or three
/// slots. Its keys are the address bits, but two distinct prefixes can share them: IPv6 addresses that differ only in
/// their scope id. The older one is in the table and wins, as it did when the table was one sorted list; the others wait,
/// oldest first, in <c>_shadowed</c> and the oldest takes the slot when the holder goes.
/// </para>
/// </remarks>
internal sealed class PrefixIndex
{
    private const int MinimumCapacity = 8;

    /// <summary>Full-length entries by address; a power-of-two length (or empty), at most half full.</summary>
    private readonly RouteEntry?[] _hosts;

    private readonly int _hostCount;

    /// <summary>64 minus log2 of the table's length: the hash's top bits pick the slot (Fibonacci hashing).</summary>
    private readonly int _shift;

    /// <summary>Full-length entries whose address bits another entry holds in the table (IPv6 scope ids only), oldest first.</summary>
    private readonly RouteEntry[] _shadowed;

    /// <summary>Shorter prefixes, longest first, older first within a length.</summary>
    private readonly RouteEntry[] _shorter;

    /// <summary>Local prefixes in the same order as <see cref="_shorter"/>.</summary>
    private readonly RouteEntry[] _locals;

    private PrefixIndex(int hostLength, RouteEntry?[] hosts, int hostCount, RouteEntry[] shadowed, RouteEntry[] shorter, RouteEntry[] locals)
    {
        HostLength = hostLength;
        _hosts = hosts;
        _hostCount = hostCount;
        _shift = hosts.Length == 0 ? 0 : ShiftFor(hosts.Length);
        _shadowed = shadowed;
        _shorter = shorter;
        _locals = locals;
    }

    public static PrefixIndex EmptyV4 { get; } = new(32, [], 0, [], [], []);

    public static PrefixIndex EmptyV6 { get; } = new(128, [], 0, [], [], []);

    /// <summary>The full prefix length of the family: 32 or 128.</summary>
    public int HostLength { get; }

    /// <summary>Entries of every kind.</summary>
    public int Count => _hostCount + _shadowed.Length + _shorter.Length;

    public int LocalCount => _locals.Length;

    /// <summary>The local entry a sorted list would have named first (longest, then oldest), or <c>null</c>.</summary>
    public RouteEntry? FirstLocal => _locals.Length == 0 ? null : _locals[0];

    /// <summary>The entry with the longest prefix that contains the address (<paramref name="hi"/>, <paramref name="lo"/>), or <c>null</c>.</summary>
    public RouteEntry? Match(ulong hi, ulong lo)
    {
        int slot = IndexOf(hi, lo);
        if (slot >= 0)
        {
            return _hosts[slot];
        }

        foreach (RouteEntry e in _shorter)
        {
            if ((hi & e.MaskHi) == e.NetworkHi && (lo & e.MaskLo) == e.NetworkLo)
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>The entry for exactly <paramref name="prefix"/>, or <c>null</c>.</summary>
    public RouteEntry? Find(IPNetwork prefix)
    {
        if (prefix.PrefixLength != HostLength)
        {
            int i = IndexOfPrefix(_shorter, prefix);
            return i < 0 ? null : _shorter[i];
        }

        RouteEntry.ReadAddress(prefix.BaseAddress, out ulong hi, out ulong lo);
        int slot = IndexOf(hi, lo);
        if (slot >= 0 && _hosts[slot]!.Prefix == prefix)
        {
            return _hosts[slot];
        }

        int s = IndexOfPrefix(_shadowed, prefix);
        return s < 0 ? null : _shadowed[s];
    }

    /// <summary>This index plus <paramref name="entry"/>, the newest entry, whose prefix the index does not hold.</summary>
    public PrefixIndex With(RouteEntry entry)
    {
        RouteEntry[] locals = entry.Kind == RouteEntryKind.Local ? InsertByLength(_locals, entry) : _locals;
        if (entry.Prefix.PrefixLength != HostLength)
        {
            return new PrefixIndex(HostLength, _hosts, _hostCount, _shadowed, InsertByLength(_shorter, entry), locals);
        }

        if (IndexOf(entry.NetworkHi, entry.NetworkLo) >= 0)
        {
            return new PrefixIndex(HostLength, _hosts, _hostCount, [.. _shadowed, entry], _shorter, locals);
        }

        RouteEntry?[] hosts = (_hostCount + 1) * 2 > _hosts.Length ? Rehash(_hosts, CapacityFor(_hostCount + 1)) : (RouteEntry?[])_hosts.Clone();
        Insert(hosts, entry);
        return new PrefixIndex(HostLength, hosts, _hostCount + 1, _shadowed, _shorter, locals);
    }

    /// <summary>This index without the entry for exactly <paramref name="prefix"/> (the same index when there is none).</summary>
    public PrefixIndex Without(IPNetwork prefix, out RouteEntry? removed)
    {
        if (prefix.PrefixLength != HostLength)
        {
            int i = IndexOfPrefix(_shorter, prefix);
            removed = i < 0 ? null : _shorter[i];
            return removed is null ? this : new PrefixIndex(HostLength, _hosts, _hostCount, _shadowed, RemoveAt(_shorter, i), WithoutLocal(removed));
        }

        RouteEntry.ReadAddress(prefix.BaseAddress, out ulong hi, out ulong lo);
        int slot = IndexOf(hi, lo);
        if (slot >= 0 && _hosts[slot]!.Prefix == prefix)
        {
            removed = _hosts[slot];
            var hosts = (RouteEntry?[])_hosts.Clone();
            Delete(hosts, slot);
            int count = _hostCount - 1;
            RouteEntry[] shadowed = _shadowed;
            for (int s = 0; s < shadowed.Length; s++)
            {
                if (shadowed[s].NetworkHi == hi && shadowed[s].NetworkLo == lo)
                {
                    Insert(hosts, shadowed[s]);
                    count++;
                    shadowed = RemoveAt(shadowed, s);
                    break;
                }
            }

            return new PrefixIndex(HostLength, hosts, count, shadowed, _shorter, WithoutLocal(removed!));
        }

        int w = IndexOfPrefix(_shadowed, prefix);
        removed = w < 0 ? null : _shadowed[w];
        return removed is null ? this : new PrefixIndex(HostLength, _hosts, _hostCount, RemoveAt(_shadowed, w), _shorter, WithoutLocal(removed));
    }

    /// <summary>This index without the entries whose link is <paramref name="link"/>; rebuilt, since a link may carry many.</summary>
    public PrefixIndex WithoutLink(ITincanLink? link, out int removed)
    {
        List<RouteEntry> kept = new(Count);
        Keep(_hosts, link, kept);
        Keep(_shadowed, link, kept);
        Keep(_shorter, link, kept);
        removed = Count - kept.Count;
        return removed == 0 ? this : Build(HostLength, kept);

        static void Keep(RouteEntry?[] entries, ITincanLink? link, List<RouteEntry> kept)
        {
            foreach (RouteEntry? e in entries)
            {
                if (e is not null && !ReferenceEquals(e.Link, link))
                {
                    kept.Add(e);
                }
            }
        }
    }

    /// <summary>Adds the entries other than local ones in a sorted list's order: longest prefix first, older first within a length.</summary>
    public void AddRoutesTo(List<(IPNetwork Prefix, ITincanLink? Link)> routes)
    {
        List<RouteEntry> hosts = new(_hostCount + _shadowed.Length);
        foreach (RouteEntry? e in _hosts)
        {
            if (e is not null)
            {
                hosts.Add(e);
            }
        }

        hosts.AddRange(_shadowed);
        hosts.Sort(static (x, y) => x.Sequence.CompareTo(y.Sequence));
        foreach (RouteEntry e in hosts)
        {
            if (e.Kind != RouteEntryKind.Local)
            {
                routes.Add((e.Prefix, e.Link));
            }
        }

        foreach (RouteEntry e in _shorter)
        {
            if (e.Kind != RouteEntryKind.Local)
            {
                routes.Add((e.Prefix, e.Link));
            }
        }
    }

    /// <summary>An index of <paramref name="entries"/> (any order): each goes in oldest first, as it was set.</summary>
    private static PrefixIndex Build(int hostLength, List<RouteEntry> entries)
    {
        entries.Sort(static (x, y) => x.Sequence.CompareTo(y.Sequence));
        int hostCount = 0;
        foreach (RouteEntry e in entries)
        {
            hostCount += e.Prefix.PrefixLength == hostLength ? 1 : 0;
        }

        // Sized once for every host entry and filled in place: this table is not published yet.
        var hosts = new RouteEntry?[hostCount == 0 ? 0 : CapacityFor(hostCount)];
        List<RouteEntry> shadowed = [];
        List<RouteEntry> shorter = [];
        List<RouteEntry> locals = [];
        int count = 0;
        foreach (RouteEntry e in entries)
        {
            if (e.Kind == RouteEntryKind.Local)
            {
                locals.Add(e);
            }

            if (e.Prefix.PrefixLength != hostLength)
            {
                shorter.Add(e);
            }
            else if (FindSlot(hosts, e.NetworkHi, e.NetworkLo) >= 0)
            {
                shadowed.Add(e);
            }
            else
            {
                Insert(hosts, e);
                count++;
            }
        }

        // A stable sort: entries of one length stay oldest first.
        return new PrefixIndex(hostLength, hosts, count, [.. shadowed], [.. shorter.OrderByDescending(e => e.Prefix.PrefixLength)], [.. locals.OrderByDescending(e => e.Prefix.PrefixLength)]);
    }

    private int IndexOf(ulong hi, ulong lo) => _hosts.Length == 0 ? -1 : FindSlot(_hosts, _shift, hi, lo);

    private static int FindSlot(RouteEntry?[] table, ulong hi, ulong lo) => table.Length == 0 ? -1 : FindSlot(table, ShiftFor(table.Length), hi, lo);

    private static int FindSlot(RouteEntry?[] table, int shift, ulong hi, ulong lo)
    {
        int mask = table.Length - 1;
        int slot = Home(hi, lo, shift);

        // At most half full, so an empty slot ends every probe long before the bound.
        for (int probe = 0; probe < table.Length; probe++)
        {
            RouteEntry? e = table[slot];
            if (e is null)
            {
                return -1;
            }

            if (e.NetworkLo == lo && e.NetworkHi == hi)
            {
                return slot;
            }

            slot = (slot + 1) & mask;
        }

        return -1;
    }

    private static void Insert(RouteEntry?[] table, RouteEntry entry)
    {
        int mask = table.Length - 1;
        int slot = Home(entry.NetworkHi, entry.NetworkLo, ShiftFor(table.Length));
        while (table[slot] is not null)
        {
            slot = (slot + 1) & mask;
        }

        table[slot] = entry;
    }

    /// <summary>
    /// Empties <paramref name="slot"/> and moves later entries of its probe run back into the gap where their home allows
    /// (backward-shift deletion), so no lookup stops early at the hole and no tombstones build up.
    /// </summary>
    private static void Delete(RouteEntry?[] table, int slot)
    {
        int mask = table.Length - 1;
        int shift = ShiftFor(table.Length);
        int hole = slot;
        table[hole] = null;
        for (int next = (hole + 1) & mask; table[next] is { } e; next = (next + 1) & mask)
        {
            int home = Home(e.NetworkHi, e.NetworkLo, shift);

            // e may move into the hole unless its home lies cyclically in (hole, next]: then the hole is before its home.
            bool homeAfterHole = hole <= next ? home > hole && home <= next : home > hole || home <= next;
            if (!homeAfterHole)
            {
                table[hole] = e;
                table[next] = null;
                hole = next;
            }
        }
    }

    private static RouteEntry?[] Rehash(RouteEntry?[] table, int capacity)
    {
        var bigger = new RouteEntry?[capacity];
        foreach (RouteEntry? e in table)
        {
            if (e is not null)
            {
                Insert(bigger, e);
            }
        }

        return bigger;
    }

    // Fibonacci hashing of both halves: sequential member addresses (the usual assignment) spread over the whole table.
    private static int Home(ulong hi, ulong lo, int shift) => (int)(((lo ^ (hi * 0xC2B2AE3D27D4EB4FUL)) * 0x9E3779B97F4A7C15UL) >> shift);

    private static int ShiftFor(int capacity) => 64 - BitOperations.Log2((uint)capacity);

    private static int CapacityFor(int count) => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(MinimumCapacity, count * 2));

    private static int IndexOfPrefix(RouteEntry[] entries, IPNetwork prefix)
    {
        for (int i = 0; i < entries.Length; i++)
        {
            if (entries[i].Prefix == prefix)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Inserts the newest <paramref name="entry"/> after every entry at least as long: longest first, older first.</summary>
    private static RouteEntry[] InsertByLength(RouteEntry[] entries, RouteEntry entry)
    {
        int at = 0;
        while (at < entries.Length && entries[at].Prefix.PrefixLength >= entry.Prefix.PrefixLength)
        {
            at++;
        }

        var result = new RouteEntry[entries.Length + 1];
        entries.AsSpan(0, at).CopyTo(result);
        result[at] = entry;
        entries.AsSpan(at).CopyTo(result.AsSpan(at + 1));
        return result;
    }

    private static RouteEntry[] RemoveAt(RouteEntry[] entries, int index) => [.. entries.AsSpan(0, index), .. entries.AsSpan(index + 1)];

    private RouteEntry[] WithoutLocal(RouteEntry removed)
    {
        int i = removed.Kind == RouteEntryKind.Local ? Array.IndexOf(_locals, removed) : -1;
        return i < 0 ? _locals : RemoveAt(_locals, i);
    }
}
