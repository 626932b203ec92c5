using System.Buffers.Binary;
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
/// <para>
/// Reads are lock-free: the data path reads an immutable snapshot that writers replace atomically. A structured group
/// gives every member a /32 and a /128 for each other member (thousands of routes in a group of a thousand), so the
/// snapshot keeps those full-length routes in a hash table and scans only the few shorter prefixes, longest first: a
/// lookup costs about the same at 10 routes as at 4,000 (docs/routing.md, "Route lookup").
/// </para>
/// </remarks>
public sealed class RouteTable : IPacketRouter
{
    private readonly Lock _writeLock = new();
    private Snapshot _snapshot = Snapshot.Empty;
    private long _sequence;

    /// <summary>Number of routes (forwarding routes and unreachable prefixes included, local prefixes not).</summary>
    public int Count => Volatile.Read(ref _snapshot).Count;

    /// <summary>
    /// Routes <paramref name="prefix"/> to <paramref name="link"/>, replacing a route for the same prefix: the peer at
    /// the other end owns the prefix, so packets with a source in it are accepted from that link only.
    /// </summary>
    public void SetRoute(IPNetwork prefix, ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        Set(prefix, link, RouteEntryKind.Direct);
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
        Set(prefix, nextHop, RouteEntryKind.Forwarding);
    }

    /// <summary>
    /// Marks <paramref name="prefix"/> (this node's own address, a /32 or /128) as local: packets for it that arrive on a
    /// link are delivered to the interface, and packets that claim it as their source are refused. Setting one turns
    /// forwarding on: packets that arrive for a member routed to another link are sent on to it, and packets for an
    /// address in an <see cref="SetUnreachable">unreachable</see> prefix are answered with ICMP unreachable.
    /// </summary>
    public void SetLocal(IPNetwork prefix) => Set(prefix, null, RouteEntryKind.Local);

    /// <summary>
    /// Marks <paramref name="prefix"/> (typically the whole overlay subnet) as reachable only through more
    /// specific routes: a packet to an address in it without a link answers the sender with ICMP
    /// unreachable instead of vanishing.
    /// </summary>
    public void SetUnreachable(IPNetwork prefix) => Set(prefix, null, RouteEntryKind.Unreachable);

    /// <summary>Removes the route (or local or unreachable prefix) for exactly <paramref name="prefix"/>.</summary>
    /// <returns><c>false</c> if there was none.</returns>
    public bool RemoveRoute(IPNetwork prefix)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            Snapshot next = IsV6(prefix) ? s.WithV6(s.V6.Without(prefix, out RouteEntry? removed)) : s.WithV4(s.V4.Without(prefix, out removed));
            Volatile.Write(ref _snapshot, next);
            return removed is not null;
        }
    }

    /// <summary>Removes every route that points to <paramref name="link"/> (the link went away); covering "unreachable" prefixes then answer for its addresses.</summary>
    public int RemoveRoutes(ITincanLink link)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            var next = new Snapshot(s.V4.WithoutLink(link, out int v4), s.V6.WithoutLink(link, out int v6));
            Volatile.Write(ref _snapshot, next);
            return v4 + v6;
        }
    }

    /// <summary>The routes, longest prefix first (a forwarding route with its next hop; local prefixes not listed).</summary>
    public IReadOnlyList<(IPNetwork Prefix, ITincanLink? Link)> GetRoutes()
    {
        Snapshot s = Volatile.Read(ref _snapshot);
        List<(IPNetwork Prefix, ITincanLink? Link)> routes = new(s.Count);
        s.V4.AddRoutesTo(routes);
        s.V6.AddRoutesTo(routes);
        return routes;
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
        RouteEntry? e = (IsV6(prefix) ? s.V6 : s.V4).Find(prefix);
        return e?.Kind == RouteEntryKind.Forwarding ? Interlocked.Read(ref e.OutboundPackets) : null;
    }

    /// <summary>Finds the link for a destination address, or <c>null</c>.</summary>
    public ITincanLink? Lookup(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        bool v4 = RouteEntry.ReadAddress(address, out ulong hi, out ulong lo);
        Snapshot s = Volatile.Read(ref _snapshot);
        return (v4 ? s.V4 : s.V6).Match(hi, lo)?.Link;
    }

    /// <inheritdoc />
    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        RouteEntry? entry = LookupAddress(Volatile.Read(ref _snapshot), packet, source: false);
        if (entry?.Kind == RouteEntryKind.Forwarding)
        {
            // Counted for on-demand links (a controller asks with GetForwardedPackets); one reading thread per interface,
            // so the increment is uncontended.
            Interlocked.Increment(ref entry.OutboundPackets);
        }

        return entry?.Kind switch
        {
            RouteEntryKind.Direct or RouteEntryKind.Forwarding => RouteDecision.To(entry.Link!),
            RouteEntryKind.Unreachable => RouteDecision.Unreachable,
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

        RouteEntry? destination = LookupAddress(s, packet, source: false);
        return destination?.Kind switch
        {
            RouteEntryKind.Direct or RouteEntryKind.Forwarding => InboundDecision.Forward(destination.Link!),
            RouteEntryKind.Unreachable when !IsMulticast(packet) => InboundDecision.Drop(InboundDropReason.Unreachable),

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
        RouteEntry? local = (version == 4 ? s.V4 : s.V6).FirstLocal;
        return local is not null && local.Prefix.BaseAddress.TryWriteBytes(address, out _);
    }

    private static bool SourceAllowed(RouteEntry? source, ITincanLink from) => source?.Kind switch
    {
        RouteEntryKind.Direct => ReferenceEquals(source.Link, from),
        RouteEntryKind.Forwarding => true,
        _ => false,
    };

    // Checked only after the source passed and LookupAddress found a valid header of this length.
    private static bool IsMulticast(ReadOnlySpan<byte> packet) => (packet[0] >> 4) == 4
        ? packet[16] >= 224 || BinaryPrimitives.ReadUInt32BigEndian(packet[16..]) == uint.MaxValue
        : packet[24] == 0xFF;

    private static RouteEntry? LookupAddress(Snapshot s, ReadOnlySpan<byte> packet, bool source)
    {
        if (packet.IsEmpty)
        {
            return null;
        }

        int version = packet[0] >> 4;
        if (version == 4 && packet.Length >= 20)
        {
            return s.V4.Match(0, BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(source ? 12 : 16, 4)));
        }

        if (version == 6 && packet.Length >= 40)
        {
            ReadOnlySpan<byte> address = packet.Slice(source ? 8 : 24, 16);
            return s.V6.Match(BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..]));
        }

        return null;
    }

    private static bool IsV6(IPNetwork prefix) => prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6;

    private void Set(IPNetwork prefix, ITincanLink? link, RouteEntryKind kind)
    {
        lock (_writeLock)
        {
            Snapshot s = _snapshot;
            bool v6 = IsV6(prefix);
            PrefixIndex index = (v6 ? s.V6 : s.V4).Without(prefix, out RouteEntry? old);

            // The newest entry goes after the older ones of its length, as a replaced prefix always did.
            var entry = new RouteEntry(prefix, link, kind, ++_sequence);
            if (old is not null && old.Kind == kind)
            {
                entry.OutboundPackets = Interlocked.Read(ref old.OutboundPackets);
            }

            index = index.With(entry);
            Volatile.Write(ref _snapshot, v6 ? s.WithV6(index) : s.WithV4(index));
        }
    }

    private sealed class Snapshot
    {
        public Snapshot(PrefixIndex v4, PrefixIndex v6)
        {
            V4 = v4;
            V6 = v6;
            LocalCount = v4.LocalCount + v6.LocalCount;
            Count = v4.Count + v6.Count - LocalCount;
        }

        public static Snapshot Empty { get; } = new(PrefixIndex.EmptyV4, PrefixIndex.EmptyV6);

        public PrefixIndex V4 { get; }

        public PrefixIndex V6 { get; }

        /// <summary>Local prefixes: none means the node's addresses are unknown and destinations are not checked.</summary>
        public int LocalCount { get; }

        /// <summary>Entries other than local prefixes.</summary>
        public int Count { get; }

        public Snapshot WithV4(PrefixIndex v4) => ReferenceEquals(v4, V4) ? this : new(v4, V6);

        public Snapshot WithV6(PrefixIndex v6) => ReferenceEquals(v6, V6) ? this : new(V4, v6);
    }
}
