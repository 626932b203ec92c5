using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.NetworkInformation;

namespace Ipop.Tincan;

/// <summary>
/// Layer-2 forwarding for TAP ("switch") mode: learns which link each source MAC lives behind,
/// sends known unicast to that link, and floods broadcast, multicast and unknown unicast to every
/// connected link. In a full mesh, frames from a link are only ever written to the local interface, never sent to
/// another link (split horizon), so the mesh cannot loop. In a structured overlay (<see cref="SetRingPosition(ulong)"/>)
/// frames cross members: floods are bounded along the ring, and stations heard through a hop are reached through it.
/// </summary>
/// <remarks>
/// <para>
/// A controller that negotiated a peer's MAC binds it with <see cref="Bind"/>: that link's frames are then
/// accepted only from that MAC, or, if the peer is a bridge, also from MACs learned behind it. A bound MAC
/// (and the local one, <see cref="SetLocal"/>) never moves to another link, a MAC seen in frames from our own
/// interface (a station behind our bridge) is not taken by a link until it has aged out, and a MAC learned
/// behind a link moves only after that link was silent from it for <see cref="MoveHoldTime"/>, so one frame
/// cannot steal a station. Links never bound keep plain learning under the same rules.
/// </para>
/// <para>
/// Learning happens on the receive path; an entry is allocated once per new MAC and refreshed in
/// place afterwards, so steady-state traffic does not allocate. Entries age out after
/// <see cref="AgingTime"/> (default 300 s, like Linux bridges) so a moved host is relearned. At most
/// <see cref="MaxStations"/> learned entries are kept: when full, expired ones go first, then the oldest
/// eighth (counted in <see cref="Evicted"/>), so a flood of made-up source MACs costs a bounded table.
/// </para>
/// <para>
/// Structured overlays (docs/routing.md, "TAP mode"): a frame that arrived forwarded by a member teaches the switch that
/// its source is behind the link it came on, "through a hop". Such a frame may come from any MAC but the local one (or a
/// station on our side that has not aged out), a group address, or a MAC bound to another link (a direct neighbour
/// cannot be impersonated). A station learned on another link is accepted over this one too (paths are asymmetric) and
/// moves here once silent on its own link for <see cref="MoveHoldTime"/>. Plain frames keep the rules above.
/// </para>
/// </remarks>
public sealed partial class LearningSwitch : IPacketRouter
{
    /// <summary>Default of <see cref="MaxStations"/>.</summary>
    public const int DefaultMaxStations = 4096;

    private const int EthernetHeaderLength = 14;

    /// <summary>The I/G bit of a MAC as <see cref="ReadMac"/> packs it: set for group (broadcast, multicast) addresses.</summary>
    private const ulong GroupBit = 0x0100_0000_0000UL;
    private readonly ConcurrentDictionary<ulong, Station> _stations = new();
    private readonly ConcurrentDictionary<ITincanLink, Binding> _bindings = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<ITincanLink, ulong> _positions = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _evictGate = new();
    private readonly TimeProvider _time;
    private readonly long _agingTicks;
    private readonly long _moveHoldTicks;
    private int _learned;
    private long _evicted;
    private long _refused;
    private long _position;
    private int _structured;

    /// <summary>Creates a switch.</summary>
    /// <param name="agingTime">How long a learned MAC stays without traffic (default 300 s).</param>
    /// <param name="timeProvider">Clock (tests use a fake one).</param>
    /// <param name="maxStations">Most learned MACs kept (default <see cref="DefaultMaxStations"/>).</param>
    public LearningSwitch(TimeSpan? agingTime = null, TimeProvider? timeProvider = null, int maxStations = DefaultMaxStations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxStations, 1);
        _time = timeProvider ?? TimeProvider.System;
        AgingTime = agingTime ?? TimeSpan.FromSeconds(300);
        MaxStations = maxStations;
        MoveHoldTime = AgingTime < TimeSpan.FromSeconds(10) ? AgingTime : TimeSpan.FromSeconds(10);
        _agingTicks = (long)(AgingTime.TotalSeconds * _time.TimestampFrequency);
        _moveHoldTicks = (long)(MoveHoldTime.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>How long a learned station stays without traffic.</summary>
    public TimeSpan AgingTime { get; }

    /// <summary>How long a learned MAC must be silent on its link before another link may take it over.</summary>
    internal TimeSpan MoveHoldTime { get; }

    /// <summary>Most learned stations kept.</summary>
    public int MaxStations { get; }

    /// <summary>Number of stations, learned and bound (including expired ones not yet purged).</summary>
    public int Count => _stations.Count;

    /// <summary>Learned stations evicted to stay within <see cref="MaxStations"/>.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Frames refused because their source MAC was not the link's to use (bound elsewhere, local, held by another link, or not negotiated).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Binds the MAC that <paramref name="link"/>'s peer negotiated: from now on the link's frames are accepted only
    /// from <paramref name="mac"/>, plus (when <paramref name="bridge"/>) stations learned behind it, and no other link
    /// may use <paramref name="mac"/>.
    /// </summary>
    /// <returns><c>false</c> (nothing changed) if <paramref name="mac"/> is bound to another link or is the local MAC.</returns>
    public bool Bind(ITincanLink link, PhysicalAddress mac, bool bridge)
    {
        ArgumentNullException.ThrowIfNull(link);
        ulong key = ToKey(mac);
        lock (_evictGate)
        {
            if (_stations.TryGetValue(key, out Station? s) && s.Bound && !ReferenceEquals(s.Link, link))
            {
                return false;
            }

            if (_bindings.TryGetValue(link, out Binding? previous) && previous.Mac != key)
            {
                _stations.TryRemove(previous.Mac, out _);
            }

            if (_stations.TryGetValue(key, out Station? learned) && !learned.Bound)
            {
                if (_stations.TryRemove(KeyValuePair.Create(key, learned)))
                {
                    Interlocked.Decrement(ref _learned);
                }
            }

            _stations[key] = new Station(link, _time.GetTimestamp(), bound: true);
            _bindings[link] = new Binding(key, bridge);
            return true;
        }
    }

    /// <summary>Marks <paramref name="mac"/> as this node's own (its TAP device): no link may send from it.</summary>
    public void SetLocal(PhysicalAddress mac)
    {
        ulong key = ToKey(mac);
        lock (_evictGate)
        {
            if (_stations.TryGetValue(key, out Station? s) && !s.Bound && _stations.TryRemove(KeyValuePair.Create(key, s)))
            {
                Interlocked.Decrement(ref _learned);
            }

            _stations[key] = new Station(null, _time.GetTimestamp(), bound: true);
        }
    }

    /// <inheritdoc />
    public RouteDecision RouteOutbound(Span<byte> packet) => RouteFrame(packet, out ITincanLink? link) switch
    {
        SwitchRoute.Direct or SwitchRoute.ThroughHop => RouteDecision.To(link!),
        SwitchRoute.Flood => RouteDecision.Flood,
        _ => RouteDecision.Drop,
    };

    /// <summary>
    /// <see cref="RouteOutbound"/> for the data plane of a structured overlay, which must tell a station learned directly
    /// (a plain frame to its link) from one learned through a hop (a forwarded frame to the link it was heard from).
    /// </summary>
    /// <param name="packet">The frame from the interface.</param>
    /// <param name="link">The link for <see cref="SwitchRoute.Direct"/> and <see cref="SwitchRoute.ThroughHop"/>.</param>
    /// <param name="answerArp">
    /// Whether an ARP request for an address with an entry (<see cref="SetArpEntry"/>) may be rewritten in place into
    /// its reply (<see cref="SwitchRoute.AnswerLocally"/>): only a caller that writes it back to the interface.
    /// </param>
    internal SwitchRoute RouteFrame(Span<byte> packet, out ITincanLink? link, bool answerArp = false)
    {
        link = null;
        if (packet.Length < EthernetHeaderLength)
        {
            return SwitchRoute.Drop;
        }

        LearnLocal(packet.Slice(6, 6));

        // I/G bit: group (broadcast/multicast) addresses flood, but for an ARP request the switch can answer itself.
        if ((packet[0] & 1) != 0)
        {
            return answerArp && TryAnswerArp(packet) ? SwitchRoute.AnswerLocally : SwitchRoute.Flood;
        }

        SwitchRoute way = FindUnicast(ReadMac(packet), out link, out MemberRoute? route);
        if (route is not null)
        {
            Interlocked.Increment(ref route.OutboundPackets); // for on-demand links, as RouteTable counts forwarding routes
        }

        return way;
    }

    /// <summary>
    /// Where a unicast frame for <paramref name="mac"/> goes, for frames from the interface and frames passing through
    /// alike: <see cref="SwitchRoute.Drop"/> for a station on this node's side (our NIC, or behind our bridge), the
    /// connected link bound to it (<see cref="SwitchRoute.Direct"/>), else its member route (by ring position, before
    /// anything floods taught; <paramref name="route"/> set), else the link it was learned behind, else
    /// <see cref="SwitchRoute.Flood"/> (unknown, or behind a link that is down).
    /// </summary>
    private SwitchRoute FindUnicast(ulong mac, out ITincanLink? link, out MemberRoute? route)
    {
        link = null;
        route = null;
        bool known = _stations.TryGetValue(mac, out Station? station);
        if (known && station!.Link is null)
        {
            return SwitchRoute.Drop;
        }

        if (known && station!.Bound && IsReachable(station))
        {
            link = station.Link;
            return SwitchRoute.Direct;
        }

        route = ConnectedMemberRoute(mac);
        if (route is not null)
        {
            link = route.Link;
            return SwitchRoute.ThroughHop;
        }

        if (known && !station!.Bound && IsReachable(station))
        {
            link = station.Link;
            return station.Hop ? SwitchRoute.ThroughHop : SwitchRoute.Direct;
        }

        return SwitchRoute.Flood;
    }

    /// <inheritdoc />
    public bool AcceptInbound(ITincanLink from, Span<byte> packet)
    {
        ArgumentNullException.ThrowIfNull(from);
        if (packet.Length < EthernetHeaderLength)
        {
            return false;
        }

        Span<byte> source = packet.Slice(6, 6);
        if ((source[0] & 1) != 0)
        {
            // A group address as source is invalid Ethernet; never learn or deliver it.
            return false;
        }

        ulong mac = ReadMac(source);
        bool bound = _bindings.TryGetValue(from, out Binding? binding);
        if (bound && binding!.Mac == mac)
        {
            return true;
        }

        if (bound && !binding!.Bridge)
        {
            return Refuse();
        }

        long now = _time.GetTimestamp();
        if (_stations.TryGetValue(mac, out Station? station))
        {
            if (ReferenceEquals(station.Link, from))
            {
                if (station.Hop)
                {
                    // A plain frame from the link a station was heard through: it is right behind that link after all.
                    _stations.TryUpdate(mac, new Station(from, now, bound: false), station);
                    return true;
                }

                Volatile.Write(ref station.LastSeen, now);
                return true;
            }

            long silent = now - Volatile.Read(ref station.LastSeen);
            if (station.Bound
                || (station.Link is null && silent < _agingTicks)
                || (station.Link is not null && silent < _moveHoldTicks && station.Link.Status.State == LinkState.Connected))
            {
                // Another link owns this MAC (negotiated, ours, or heard from it just now): one frame must not re-point it.
                return Refuse();
            }

            // The station was silent where it was: it moved (or its link is down).
            return _stations.TryUpdate(mac, new Station(from, now, bound: false), station) || Refuse();
        }

        if (Volatile.Read(ref _learned) >= MaxStations)
        {
            Evict();
        }

        if (_stations.TryAdd(mac, new Station(from, now, bound: false)))
        {
            Interlocked.Increment(ref _learned);
        }

        return true;
    }

    /// <summary>Forgets every station behind <paramref name="link"/>, its binding, its ring position and the member routes through it (the link went away).</summary>
    public void Forget(ITincanLink link)
    {
        lock (_evictGate)
        {
            _bindings.TryRemove(link, out _);
            _positions.TryRemove(link, out _);
            ForgetMemberRoutes(link);
            foreach (KeyValuePair<ulong, Station> pair in _stations)
            {
                if (ReferenceEquals(pair.Value.Link, link) && _stations.TryRemove(pair) && !pair.Value.Bound)
                {
                    Interlocked.Decrement(ref _learned);
                }
            }
        }
    }

    /// <summary>Removes learned stations not seen for longer than <see cref="AgingTime"/> (bound ones stay until <see cref="Forget"/>).</summary>
    public int Purge()
    {
        long now = _time.GetTimestamp();
        int removed = 0;
        foreach (KeyValuePair<ulong, Station> pair in _stations)
        {
            if (!pair.Value.Bound && now - Volatile.Read(ref pair.Value.LastSeen) >= _agingTicks && _stations.TryRemove(pair))
            {
                Interlocked.Decrement(ref _learned);
                removed++;
            }
        }

        return removed;
    }

    /// <summary>
    /// A frame from our own interface: its source is on our side (behind our bridge). A link may not claim such
    /// a station until it has aged out here, or it could pull our own containers' traffic into the tunnel.
    /// </summary>
    private void LearnLocal(ReadOnlySpan<byte> source)
    {
        if ((source[0] & 1) != 0)
        {
            return;
        }

        ulong mac = ReadMac(source);
        long now = _time.GetTimestamp();
        if (_stations.TryGetValue(mac, out Station? station))
        {
            if (station.Link is null)
            {
                if (!station.Bound)
                {
                    Volatile.Write(ref station.LastSeen, now);
                }

                return;
            }

            if (station.Bound)
            {
                return; // a peer's negotiated MAC: the frame is odd, but the binding stands
            }

            // The station moved to our side.
            _stations.TryUpdate(mac, new Station(null, now, bound: false), station);
            return;
        }

        if (Volatile.Read(ref _learned) >= MaxStations)
        {
            Evict();
        }

        if (_stations.TryAdd(mac, new Station(null, now, bound: false)))
        {
            Interlocked.Increment(ref _learned);
        }
    }

    private bool IsReachable(Station station) =>
        (station.Bound || _time.GetTimestamp() - Volatile.Read(ref station.LastSeen) < _agingTicks)
        && station.Link!.Status.State == LinkState.Connected;

    private bool Refuse()
    {
        Interlocked.Increment(ref _refused);
        return false;
    }

    private void Evict()
    {
        lock (_evictGate)
        {
            if (Volatile.Read(ref _learned) < MaxStations)
            {
                return; // another thread made room
            }

            if (Purge() > 0 && Volatile.Read(ref _learned) < MaxStations)
            {
                return;
            }

            // An eighth at a time so a flood pays for one sort per MaxStations/8 new MACs, not one per frame.
            int count = Math.Max(1, MaxStations / 8);
            foreach (KeyValuePair<ulong, Station> pair in _stations.Where(p => !p.Value.Bound).OrderBy(p => Volatile.Read(ref p.Value.LastSeen)).Take(count).ToList())
            {
                if (_stations.TryRemove(pair))
                {
                    Interlocked.Decrement(ref _learned);
                    Interlocked.Increment(ref _evicted);
                }
            }
        }
    }

    private static ulong ToKey(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        byte[] bytes = mac.GetAddressBytes();
        if (bytes.Length != 6)
        {
            throw new ArgumentException($"A MAC address has 6 bytes, got {bytes.Length}.", nameof(mac));
        }

        return ReadMac(bytes);
    }

    private static ulong ReadMac(ReadOnlySpan<byte> six) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]);

    private sealed class Station(ITincanLink? link, long lastSeen, bool bound, bool hop = false)
    {
        /// <summary>The link the station is behind; <c>null</c> for this node's own MAC.</summary>
        public readonly ITincanLink? Link = link;

        /// <summary>Negotiated (or local): never ages, never moves.</summary>
        public readonly bool Bound = bound;

        /// <summary>Learned through a hop (a forwarded frame): the link is the way toward it, not its member.</summary>
        public readonly bool Hop = hop;

        public long LastSeen = lastSeen;
    }

    private sealed record Binding(ulong Mac, bool Bridge);
}
