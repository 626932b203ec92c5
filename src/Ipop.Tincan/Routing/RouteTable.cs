using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan;

/// <summary>
/// Layer-3 forwarding for TUN mode: "destination prefix -> link", longest prefix wins, and the same
/// table filters what arrives (a link may only deliver packets whose source address routes back to it,
/// like WireGuard's cryptokey routing), so a peer cannot spoof another peer's virtual address.
/// </summary>
/// <remarks>
/// Reads are lock-free: the data path reads an immutable snapshot that writers replace atomically.
/// Route counts in a VPN are small (one or a few per peer), so a linear scan over entries sorted by
/// prefix length beats a trie on cache behaviour up to a few hundred routes.
/// </remarks>
public sealed class RouteTable : IPacketRouter
{
    private readonly Lock _writeLock = new();
    private Snapshot _snapshot = Snapshot.Empty;

    /// <summary>Number of routes.</summary>
    public int Count => Volatile.Read(ref _snapshot).V4.Length + Volatile.Read(ref _snapshot).V6.Length;

    /// <summary>Routes <paramref name="prefix"/> to <paramref name="link"/>, replacing a route for the same prefix.</summary>
    public void SetRoute(IPNetwork prefix, ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        Set(prefix, link);
    }

    /// <summary>
    /// Marks <paramref name="prefix"/> (typically the whole overlay subnet) as reachable only through more
    /// specific routes: a packet to an address in it without a link answers the sender with ICMP
    /// unreachable instead of vanishing.
    /// </summary>
    public void SetUnreachable(IPNetwork prefix) => Set(prefix, null);

    /// <summary>Removes the route for exactly <paramref name="prefix"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    public bool RemoveRoute(IPNetwork prefix)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            Snapshot next = new(s.V4.RemoveAll(e => e.Prefix == prefix), s.V6.RemoveAll(e => e.Prefix == prefix));
            Volatile.Write(ref _snapshot, next);
            return next.V4.Length + next.V6.Length != s.V4.Length + s.V6.Length;
        }
    }

    /// <summary>Removes every route that points to <paramref name="link"/> (the link went away); covering "unreachable" prefixes then answer for its addresses.</summary>
    public int RemoveRoutes(ITincanLink link)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            Snapshot next = new(s.V4.RemoveAll(e => ReferenceEquals(e.Link, link)), s.V6.RemoveAll(e => ReferenceEquals(e.Link, link)));
            Volatile.Write(ref _snapshot, next);
            return s.V4.Length + s.V6.Length - next.V4.Length - next.V6.Length;
        }
    }

    /// <summary>The routes, longest prefix first.</summary>
    public IReadOnlyList<(IPNetwork Prefix, ITincanLink? Link)> GetRoutes()
    {
        Snapshot s = Volatile.Read(ref _snapshot);
        return [.. s.V4.Select(e => (e.Prefix, e.Link)), .. s.V6.Select(e => (e.Prefix, e.Link))];
    }

    /// <summary>Finds the link for a destination address, or <c>null</c>.</summary>
    public ITincanLink? Lookup(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        return (written == 4 ? LookupV4(BinaryPrimitives.ReadUInt32BigEndian(bytes)) : LookupV6(bytes[..16]))?.Link;
    }

    /// <inheritdoc />
    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        Entry? entry = LookupAddress(packet, source: false);
        return entry is null ? RouteDecision.Drop : entry.Link is null ? RouteDecision.Unreachable : RouteDecision.To(entry.Link);
    }

    /// <inheritdoc />
    public bool AcceptInbound(ITincanLink from, Span<byte> packet) => ReferenceEquals(LookupAddress(packet, source: true)?.Link, from);

    private Entry? LookupAddress(ReadOnlySpan<byte> packet, bool source)
    {
        if (packet.IsEmpty)
        {
            return null;
        }

        int version = packet[0] >> 4;
        if (version == 4 && packet.Length >= 20)
        {
            return LookupV4(BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(source ? 12 : 16, 4)));
        }

        if (version == 6 && packet.Length >= 40)
        {
            return LookupV6(packet.Slice(source ? 8 : 24, 16));
        }

        return null;
    }

    private Entry? LookupV4(uint address)
    {
        foreach (Entry e in Volatile.Read(ref _snapshot).V4.AsSpan())
        {
            if ((address & e.MaskV4) == e.NetworkV4)
            {
                return e;
            }
        }

        return null;
    }

    private Entry? LookupV6(ReadOnlySpan<byte> address)
    {
        ulong hi = BinaryPrimitives.ReadUInt64BigEndian(address);
        ulong lo = BinaryPrimitives.ReadUInt64BigEndian(address[8..]);
        foreach (Entry e in Volatile.Read(ref _snapshot).V6.AsSpan())
        {
            if ((hi & e.MaskHi) == e.NetworkHi && (lo & e.MaskLo) == e.NetworkLo)
            {
                return e;
            }
        }

        return null;
    }

    private void Set(IPNetwork prefix, ITincanLink? link)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            var entry = new Entry(prefix, link);
            Volatile.Write(ref _snapshot, prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6
                ? s with { V6 = Replace(s.V6, entry) }
                : s with { V4 = Replace(s.V4, entry) });
        }
    }

    private static ImmutableArray<Entry> Replace(ImmutableArray<Entry> entries, Entry entry) =>
        [.. entries.Where(e => e.Prefix != entry.Prefix).Append(entry).OrderByDescending(e => e.Prefix.PrefixLength)];

    private sealed record Snapshot(ImmutableArray<Entry> V4, ImmutableArray<Entry> V6)
    {
        public static Snapshot Empty { get; } = new([], []);
    }

    private sealed class Entry
    {
        public Entry(IPNetwork prefix, ITincanLink? link)
        {
            Prefix = prefix;
            Link = link;
            Span<byte> b = stackalloc byte[16];
            prefix.BaseAddress.TryWriteBytes(b, out int written);
            int len = prefix.PrefixLength;
            if (written == 4)
            {
                MaskV4 = len == 0 ? 0 : uint.MaxValue << (32 - len);
                NetworkV4 = BinaryPrimitives.ReadUInt32BigEndian(b) & MaskV4;
            }
            else
            {
                MaskHi = len == 0 ? 0 : len >= 64 ? ulong.MaxValue : ulong.MaxValue << (64 - len);
                MaskLo = len <= 64 ? 0 : len == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - len);
                NetworkHi = BinaryPrimitives.ReadUInt64BigEndian(b) & MaskHi;
                NetworkLo = BinaryPrimitives.ReadUInt64BigEndian(b[8..]) & MaskLo;
            }
        }

        public IPNetwork Prefix { get; }

        /// <summary>The link, or <c>null</c> for an "unreachable" prefix.</summary>
        public ITincanLink? Link { get; }

        public uint MaskV4 { get; }

        public uint NetworkV4 { get; }

        public ulong MaskHi { get; }

        public ulong MaskLo { get; }

        public ulong NetworkHi { get; }

        public ulong NetworkLo { get; }
    }
}
