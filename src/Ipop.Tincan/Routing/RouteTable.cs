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
/// <para>
/// Overlay forwarding (docs/routing.md): a <see cref="SetForwardingRoute">forwarding route</see> names a member reached
/// through another member (the next hop); packets from such a member may arrive over any link, because the path back
/// need not be the path there. Once the node's own addresses are <see cref="SetLocal">known</see>, packets that arrive
/// for a destination routed to another link are forwarded to it.
/// </para>
/// Reads are lock-free: the data path reads an immutable snapshot that writers replace atomically.
/// Route counts in a VPN are small (one or a few per peer), so a linear scan over entries sorted by
/// prefix length beats a trie on cache behaviour up to a few hundred routes.
/// </remarks>
public sealed class RouteTable : IPacketRouter
{
    private readonly Lock _writeLock = new();
    private Snapshot _snapshot = Snapshot.Empty;

    /// <summary>Number of routes (forwarding routes and unreachable prefixes included, local prefixes not).</summary>
    public int Count
    {
        get
        {
            Snapshot s = Volatile.Read(ref _snapshot);
            return s.V4.Length + s.V6.Length - s.LocalCount;
        }
    }

    /// <summary>
    /// Routes <paramref name="prefix"/> to <paramref name="link"/>, replacing a route for the same prefix: the peer at
    /// the other end owns the prefix, so packets with a source in it are accepted from that link only.
    /// </summary>
    public void SetRoute(IPNetwork prefix, ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        Set(prefix, link, EntryKind.Direct);
    }

    /// <summary>
    /// Routes <paramref name="prefix"/>, the addresses of a member without a direct link, through
    /// <paramref name="nextHop"/> (a member that forwards them on), replacing a route for the same prefix. Packets with
    /// a source in <paramref name="prefix"/> are accepted from any link: the path back from that member need not pass
    /// through <paramref name="nextHop"/> (docs/routing.md, "Trust").
    /// </summary>
    public void SetForwardingRoute(IPNetwork prefix, ITincanLink nextHop)
    {
        ArgumentNullException.ThrowIfNull(nextHop);
        Set(prefix, nextHop, EntryKind.Forwarding);
    }

    /// <summary>
    /// Marks <paramref name="prefix"/> (this node's own address, a /32 or /128) as local: packets for it that arrive on a
    /// link are delivered to the interface, and packets that claim it as their source are refused. Setting one turns
    /// forwarding on: packets that arrive for a member routed to another link are sent on to it, and packets for an
    /// address in an <see cref="SetUnreachable">unreachable</see> prefix are answered with ICMP unreachable.
    /// </summary>
    public void SetLocal(IPNetwork prefix) => Set(prefix, null, EntryKind.Local);

    /// <summary>
    /// Marks <paramref name="prefix"/> (typically the whole overlay subnet) as reachable only through more
    /// specific routes: a packet to an address in it without a link answers the sender with ICMP
    /// unreachable instead of vanishing.
    /// </summary>
    public void SetUnreachable(IPNetwork prefix) => Set(prefix, null, EntryKind.Unreachable);

    /// <summary>Removes the route (or local or unreachable prefix) for exactly <paramref name="prefix"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    public bool RemoveRoute(IPNetwork prefix)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            var next = new Snapshot(s.V4.RemoveAll(e => e.Prefix == prefix), s.V6.RemoveAll(e => e.Prefix == prefix));
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
            var next = new Snapshot(s.V4.RemoveAll(e => ReferenceEquals(e.Link, link)), s.V6.RemoveAll(e => ReferenceEquals(e.Link, link)));
            Volatile.Write(ref _snapshot, next);
            return s.V4.Length + s.V6.Length - next.V4.Length - next.V6.Length;
        }
    }

    /// <summary>The routes, longest prefix first (a forwarding route with its next hop; local prefixes not listed).</summary>
    public IReadOnlyList<(IPNetwork Prefix, ITincanLink? Link)> GetRoutes()
    {
        Snapshot s = Volatile.Read(ref _snapshot);
        return [.. s.V4.Where(e => e.Kind != EntryKind.Local).Select(e => (e.Prefix, e.Link)), .. s.V6.Where(e => e.Kind != EntryKind.Local).Select(e => (e.Prefix, e.Link))];
    }

    /// <summary>
    /// How many packets read from the interface went out through the <see cref="SetForwardingRoute">forwarding route</see>
    /// for exactly <paramref name="prefix"/> since it was first set (a change of next hop keeps the count): what a
    /// controller measures to decide that two members exchange enough traffic for a direct link of their own.
    /// </summary>
    /// <returns>The count, or <c>null</c> when <paramref name="prefix"/> has no forwarding route.</returns>
    public long? GetForwardedPackets(IPNetwork prefix)
    {
        Snapshot s = Volatile.Read(ref _snapshot);
        foreach (Entry e in (prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? s.V6 : s.V4).AsSpan())
        {
            if (e.Prefix == prefix)
            {
                return e.Kind == EntryKind.Forwarding ? Interlocked.Read(ref e.OutboundPackets) : null;
            }
        }

        return null;
    }

    /// <summary>Finds the link for a destination address, or <c>null</c>.</summary>
    public ITincanLink? Lookup(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        Snapshot s = Volatile.Read(ref _snapshot);
        return (written == 4 ? LookupV4(s, BinaryPrimitives.ReadUInt32BigEndian(bytes)) : LookupV6(s, bytes[..16]))?.Link;
    }

    /// <inheritdoc />
    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        Entry? entry = LookupAddress(Volatile.Read(ref _snapshot), packet, source: false);
        if (entry?.Kind == EntryKind.Forwarding)
        {
            // Counted for on-demand links (a controller asks with GetForwardedPackets); one reading thread per interface,
            // so the increment is uncontended.
            Interlocked.Increment(ref entry.OutboundPackets);
        }

        return entry?.Kind switch
        {
            EntryKind.Direct or EntryKind.Forwarding => RouteDecision.To(entry.Link!),
            EntryKind.Unreachable => RouteDecision.Unreachable,
            _ => RouteDecision.Drop, // no route, or one of our own addresses (the kernel does not send those to the interface)
        };
    }

    /// <inheritdoc />
    /// <remarks>Checks the source only: from the link that owns it, or, for a member behind a forwarding route, from any link.</remarks>
    public bool AcceptInbound(ITincanLink from, Span<byte> packet) => SourceAllowed(LookupAddress(Volatile.Read(ref _snapshot), packet, source: true), from);

    /// <inheritdoc />
    /// <remarks>
    /// The source is checked first (<see cref="AcceptInbound"/>), so a spoofed packet is neither forwarded nor answered.
    /// Then, while no local prefix is set, the packet is delivered (the behaviour before forwarding existed). Once one is:
    /// routed to a link (direct or forwarding) → forward to it (the data plane refuses a forward back to
    /// <paramref name="from"/>); in an unreachable prefix → dropped and answered; local, multicast, or outside every
    /// prefix → delivered (the kernel's own policy decides, as for an exit node).
    /// </remarks>
    public InboundDecision RouteInbound(ITincanLink from, Span<byte> packet)
    {
        Snapshot s = Volatile.Read(ref _snapshot);
        if (!SourceAllowed(LookupAddress(s, packet, source: true), from))
        {
            return InboundDecision.Drop(InboundDropReason.Spoofed);
        }

        if (s.LocalCount == 0)
        {
            // Without its own addresses the table cannot tell a member's packet for us from one to pass on: a route
            // that covers our address too (a hub's whole subnet, a default route) would forward our own traffic.
            return InboundDecision.Deliver;
        }

        Entry? destination = LookupAddress(s, packet, source: false);
        return destination?.Kind switch
        {
            EntryKind.Direct or EntryKind.Forwarding => InboundDecision.Forward(destination.Link!),
            EntryKind.Unreachable when !IsMulticast(packet) => InboundDecision.Drop(InboundDropReason.Unreachable),

            // Local, or outside every route (the kernel decides, as it did before forwarding: an exit node forwards).
            _ => InboundDecision.Deliver,
        };
    }

    /// <summary>
    /// Writes this node's address of the IP version of <paramref name="version"/> (4 or 6) for the source of an ICMP
    /// error it originates (time exceeded, unreachable), so a traceroute names the hop.
    /// </summary>
    /// <returns><c>false</c> when no local prefix of that family is set.</returns>
    internal bool TryGetLocalAddress(int version, Span<byte> address)
    {
        Snapshot s = Volatile.Read(ref _snapshot);
        foreach (Entry e in (version == 4 ? s.V4 : s.V6).AsSpan())
        {
            if (e.Kind == EntryKind.Local)
            {
                return e.Prefix.BaseAddress.TryWriteBytes(address, out _);
            }
        }

        return false;
    }

    private static bool SourceAllowed(Entry? source, ITincanLink from) => source?.Kind switch
    {
        EntryKind.Direct => ReferenceEquals(source.Link, from),
        EntryKind.Forwarding => true,
        _ => false,
    };

    // Checked only after the source passed and LookupAddress found a valid header of this length.
    private static bool IsMulticast(ReadOnlySpan<byte> packet) => (packet[0] >> 4) == 4
        ? packet[16] >= 224 || BinaryPrimitives.ReadUInt32BigEndian(packet[16..]) == uint.MaxValue
        : packet[24] == 0xFF;

    private static Entry? LookupAddress(Snapshot s, ReadOnlySpan<byte> packet, bool source)
    {
        if (packet.IsEmpty)
        {
            return null;
        }

        int version = packet[0] >> 4;
        if (version == 4 && packet.Length >= 20)
        {
            return LookupV4(s, BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(source ? 12 : 16, 4)));
        }

        if (version == 6 && packet.Length >= 40)
        {
            return LookupV6(s, packet.Slice(source ? 8 : 24, 16));
        }

        return null;
    }

    private static Entry? LookupV4(Snapshot s, uint address)
    {
        foreach (Entry e in s.V4.AsSpan())
        {
            if ((address & e.MaskV4) == e.NetworkV4)
            {
                return e;
            }
        }

        return null;
    }

    private static Entry? LookupV6(Snapshot s, ReadOnlySpan<byte> address)
    {
        ulong hi = BinaryPrimitives.ReadUInt64BigEndian(address);
        ulong lo = BinaryPrimitives.ReadUInt64BigEndian(address[8..]);
        foreach (Entry e in s.V6.AsSpan())
        {
            if ((hi & e.MaskHi) == e.NetworkHi && (lo & e.MaskLo) == e.NetworkLo)
            {
                return e;
            }
        }

        return null;
    }

    private void Set(IPNetwork prefix, ITincanLink? link, EntryKind kind)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            var entry = new Entry(prefix, link, kind);
            foreach (Entry old in (prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? s.V6 : s.V4).AsSpan())
            {
                if (old.Prefix == prefix && old.Kind == kind)
                {
                    entry.OutboundPackets = Interlocked.Read(ref old.OutboundPackets);
                }
            }

            Volatile.Write(ref _snapshot, prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6
                ? new Snapshot(s.V4, Replace(s.V6, entry))
                : new Snapshot(Replace(s.V4, entry), s.V6));
        }
    }

    private static ImmutableArray<Entry> Replace(ImmutableArray<Entry> entries, Entry entry) =>
        [.. entries.Where(e => e.Prefix != entry.Prefix).Append(entry).OrderByDescending(e => e.Prefix.PrefixLength)];

    private enum EntryKind
    {
        /// <summary>The link's peer owns the prefix.</summary>
        Direct,

        /// <summary>A member reached through the link's peer (the next hop).</summary>
        Forwarding,

        /// <summary>Covered, but no link: answered with ICMP unreachable.</summary>
        Unreachable,

        /// <summary>This node's own address.</summary>
        Local,
    }

    private sealed class Snapshot
    {
        public Snapshot(ImmutableArray<Entry> v4, ImmutableArray<Entry> v6)
        {
            V4 = v4;
            V6 = v6;
            LocalCount = v4.Count(e => e.Kind == EntryKind.Local) + v6.Count(e => e.Kind == EntryKind.Local);
        }

        public static Snapshot Empty { get; } = new([], []);

        public ImmutableArray<Entry> V4 { get; }

        public ImmutableArray<Entry> V6 { get; }

        /// <summary>Local prefixes: none means the node's addresses are unknown and destinations are not checked.</summary>
        public int LocalCount { get; }
    }

    private sealed class Entry
    {
        public Entry(IPNetwork prefix, ITincanLink? link, EntryKind kind)
        {
            Prefix = prefix;
            Link = link;
            Kind = kind;
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

        /// <summary>The link (the next hop for a forwarding route), or <c>null</c> for an unreachable or local prefix.</summary>
        public ITincanLink? Link { get; }

        public EntryKind Kind { get; }

        /// <summary>Packets routed out through this entry (counted for forwarding routes only).</summary>
        public long OutboundPackets;

        public uint MaskV4 { get; }

        public uint NetworkV4 { get; }

        public ulong MaskHi { get; }

        public ulong MaskLo { get; }

        public ulong NetworkHi { get; }

        public ulong NetworkLo { get; }
    }
}
