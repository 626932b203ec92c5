using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace Ipop.Tincan;

/// <summary>
/// Layer-2 forwarding for TAP ("switch") mode: learns which link each source MAC lives behind,
/// sends known unicast to that link, and floods broadcast, multicast and unknown unicast to every
/// connected link. Frames from a link are only ever written to the local interface, never sent to
/// another link (split horizon), so a full mesh cannot loop.
/// </summary>
/// <remarks>
/// Learning happens on the receive path; an entry is allocated once per new MAC and refreshed in
/// place afterwards, so steady-state traffic does not allocate. Entries age out after
/// <see cref="AgingTime"/> (default 300 s, like Linux bridges) so a moved host is relearned.
/// </remarks>
public sealed class LearningSwitch : IPacketRouter
{
    private const int EthernetHeaderLength = 14;
    private readonly ConcurrentDictionary<ulong, Station> _stations = new();
    private readonly TimeProvider _time;
    private readonly long _agingTicks;

    /// <summary>Creates a switch.</summary>
    /// <param name="agingTime">How long a learned MAC stays without traffic (default 300 s).</param>
    /// <param name="timeProvider">Clock (tests use a fake one).</param>
    public LearningSwitch(TimeSpan? agingTime = null, TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        AgingTime = agingTime ?? TimeSpan.FromSeconds(300);
        _agingTicks = (long)(AgingTime.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>How long a learned station stays without traffic.</summary>
    public TimeSpan AgingTime { get; }

    /// <summary>Number of learned stations (including expired ones not yet purged).</summary>
    public int Count => _stations.Count;

    /// <inheritdoc />
    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        if (packet.Length < EthernetHeaderLength)
        {
            return RouteDecision.Drop;
        }

        // I/G bit: group (broadcast/multicast) addresses always flood.
        if ((packet[0] & 1) != 0)
        {
            return RouteDecision.Flood;
        }

        if (_stations.TryGetValue(ReadMac(packet), out Station? station)
            && _time.GetTimestamp() - Volatile.Read(ref station.LastSeen) < _agingTicks
            && station.Link.Status.State == LinkState.Connected)
        {
            return RouteDecision.To(station.Link);
        }

        return RouteDecision.Flood;
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
        long now = _time.GetTimestamp();
        if (_stations.TryGetValue(mac, out Station? station) && ReferenceEquals(station.Link, from))
        {
            Volatile.Write(ref station.LastSeen, now);
        }
        else
        {
            _stations[mac] = new Station(from, now);
        }

        return true;
    }

    /// <summary>Forgets every station behind <paramref name="link"/> (the link went away).</summary>
    public void Forget(ITincanLink link)
    {
        foreach (KeyValuePair<ulong, Station> pair in _stations)
        {
            if (ReferenceEquals(pair.Value.Link, link))
            {
                _stations.TryRemove(pair);
            }
        }
    }

    /// <summary>Removes stations not seen for longer than <see cref="AgingTime"/>.</summary>
    public int Purge()
    {
        long now = _time.GetTimestamp();
        int removed = 0;
        foreach (KeyValuePair<ulong, Station> pair in _stations)
        {
            if (now - Volatile.Read(ref pair.Value.LastSeen) >= _agingTicks && _stations.TryRemove(pair))
            {
                removed++;
            }
        }

        return removed;
    }

    private static ulong ReadMac(ReadOnlySpan<byte> six) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]);

    private sealed class Station(ITincanLink link, long lastSeen)
    {
        public readonly ITincanLink Link = link;
        public long LastSeen = lastSeen;
    }
}
