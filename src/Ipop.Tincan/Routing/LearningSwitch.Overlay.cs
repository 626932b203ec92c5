namespace Ipop.Tincan;

/// <summary>
/// The learning switch's part in a structured overlay (issue 16, docs/routing.md "TAP mode"): ring positions, where a
/// forwarded unicast goes next, and the spoof check and learning for frames that arrive through a hop.
/// </summary>
public sealed partial class LearningSwitch
{
    /// <summary>
    /// Structured overlays: this node's ring position. Once set, frames cross members: broadcast, multicast and unknown
    /// unicast go out as a bounded flood, and stations learned through a hop are reached through it.
    /// </summary>
    /// <param name="position">The first 8 bytes (big-endian) of the SHA-256 of the member id, as the controller orders the ring.</param>
    public void SetRingPosition(ulong position)
    {
        Interlocked.Exchange(ref _position, unchecked((long)position));
        Volatile.Write(ref _structured, 1);
    }

    /// <summary>The ring position of the member at the other end of <paramref name="link"/> (structured overlays).</summary>
    /// <param name="link">A link to a member.</param>
    /// <param name="position">That member's ring position; a flood goes out only on links whose position is known.</param>
    public void SetRingPosition(ITincanLink link, ulong position)
    {
        ArgumentNullException.ThrowIfNull(link);
        _positions[link] = position;
    }

    /// <summary>This node's ring position, once <see cref="SetRingPosition(ulong)"/> made the switch part of a structured overlay.</summary>
    internal bool TryGetRingPosition(out ulong position)
    {
        if (Volatile.Read(ref _structured) == 0)
        {
            position = 0;
            return false;
        }

        position = unchecked((ulong)Interlocked.Read(ref _position));
        return true;
    }

    /// <summary>The ring position of the member behind <paramref name="link"/>, if the controller set it.</summary>
    internal bool TryGetRingPosition(ITincanLink link, out ulong position) => _positions.TryGetValue(link, out position);

    /// <summary>
    /// Structured overlays: where a unicast frame that arrived forwarded goes next. The link bound to its destination,
    /// else the destination's member route, else the link it was learned behind (directly or through a hop); or
    /// <c>null</c> to deliver it here: the destination is on this node's side, a group address, unknown, or behind a
    /// link that is down.
    /// </summary>
    internal ITincanLink? NextHop(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeaderLength || (frame[0] & 1) != 0)
        {
            return null;
        }

        FindUnicast(ReadMac(frame), out ITincanLink? link, out _);
        return link;
    }

    /// <summary>
    /// Structured overlays: forgets where the frame's destination was learned when that is behind
    /// <paramref name="link"/>, the link the frame just came on (two members each learned the station behind the other).
    /// A negotiated MAC is never forgotten.
    /// </summary>
    /// <returns><c>true</c> when the learned entry was removed: the destination is unknown here now.</returns>
    internal bool ForgetLearnedBehind(ITincanLink link, ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeaderLength || (frame[0] & 1) != 0)
        {
            return false;
        }

        ulong mac = ReadMac(frame);
        if (_stations.TryGetValue(mac, out Station? station) && !station.Bound && ReferenceEquals(station.Link, link)
            && _stations.TryRemove(KeyValuePair.Create(mac, station)))
        {
            Interlocked.Decrement(ref _learned);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Structured overlays: true when the frame's destination is on this member's side (its interface, or a station
    /// behind its bridge) or is a group address; false when this member does not know where it is.
    /// </summary>
    internal bool IsLocalDestination(ReadOnlySpan<byte> frame) =>
        frame.Length >= EthernetHeaderLength && ((frame[0] & 1) != 0 || (_stations.TryGetValue(ReadMac(frame), out Station? station) && station.Link is null));

    /// <summary>
    /// Structured overlays: the spoof check and learning for a frame that arrived forwarded on <paramref name="from"/>
    /// (see the type's remarks). Its source is learned as behind <paramref name="from"/> through a hop.
    /// </summary>
    /// <param name="from">The link the frame came on.</param>
    /// <param name="frame">The Ethernet frame.</param>
    /// <param name="transit">
    /// A unicast this member only passes on: a source bound to another link (a neighbour's negotiated MAC) is accepted
    /// and not learned, because a path learned from floods may lead a neighbour's frame for someone else through others.
    /// </param>
    /// <returns><c>false</c> (counted in <see cref="Refused"/>) when the source may not come from a member's hop.</returns>
    internal bool AcceptForwarded(ITincanLink from, ReadOnlySpan<byte> frame, bool transit = false)
    {
        ArgumentNullException.ThrowIfNull(from);
        if (frame.Length < EthernetHeaderLength)
        {
            return false;
        }

        ReadOnlySpan<byte> source = frame.Slice(6, 6);
        if ((source[0] & 1) != 0)
        {
            return Refuse();
        }

        ulong mac = ReadMac(source);
        long now = _time.GetTimestamp();
        if (_stations.TryGetValue(mac, out Station? station))
        {
            if (ReferenceEquals(station.Link, from))
            {
                // Learned directly stays direct: a neighbour's own frames come both plain and as flood copies.
                Volatile.Write(ref station.LastSeen, now);
                return true;
            }

            long silent = now - Volatile.Read(ref station.LastSeen);
            if (station.Bound && station.Link is not null && (transit || station.Link.Status.State != LinkState.Connected))
            {
                // The negotiated MAC of a member whose link to us is not up (still connecting, or stuck there while the
                // other side no longer wants it): that member is reachable only through others, as one without a link
                // is. Delivered, and the binding stays for when the link comes up; frames to it meanwhile are flooded.
                return true;
            }

            if (station.Bound || (station.Link is null && silent < _agingTicks))
            {
                // Our own MAC, a station on our side, or a connected neighbour's negotiated MAC: no member may send from those.
                return Refuse();
            }

            if (_memberRoutes.ContainsKey(mac))
            {
                return true; // a member's MAC: the controller routes to it, a flood's path must not
            }

            if (station.Link is not null && silent < _moveHoldTicks && station.Link.Status.State == LinkState.Connected)
            {
                // Paths are asymmetric: the frame is genuine, but one frame on another path does not re-point the station.
                return true;
            }

            _stations.TryUpdate(mac, new Station(from, now, bound: false, hop: true), station);
            return true;
        }

        if (_memberRoutes.ContainsKey(mac))
        {
            return true;
        }

        if (Volatile.Read(ref _learned) >= MaxStations)
        {
            Evict();
        }

        if (_stations.TryAdd(mac, new Station(from, now, bound: false, hop: true)))
        {
            Interlocked.Increment(ref _learned);
        }

        return true;
    }
}
