using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// The built-in TAP router: an Ethernet switch whose ports are links. Static entries come from the
/// controller (<c>route.set</c> with a MAC); other source addresses are learned from frames that arrive on
/// a link. Broadcast, multicast (I/G bit set, IEEE 802 section 8.2) and unknown unicast are flooded;
/// Tincan applies split horizon, so a flooded frame from a link is never sent back to links.
/// </summary>
internal sealed class MacRouter : IControllerRouter
{
    /// <summary>Bounds what a peer can make us learn by sending frames with random source addresses.</summary>
    internal const int MaxLearned = 4096;

    private const string NoForwarding = "A TAP interface routes by MAC address, and Tincan does not forward frames between links (docs/routing.md, \"TAP mode\").";

    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<ulong, ITincanLink> _learned = new();
    private FrozenDictionary<ulong, ITincanLink> _static = FrozenDictionary<ulong, ITincanLink>.Empty;

    internal int LearnedCount => _learned.Count;

    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        if (packet.Length < 14)
        {
            return RouteDecision.Drop;
        }

        if ((packet[0] & 1) != 0)
        {
            return RouteDecision.Flood;
        }

        ulong destination = Key(packet[..6]);
        return Volatile.Read(ref _static).TryGetValue(destination, out ITincanLink? link) || _learned.TryGetValue(destination, out link)
            ? RouteDecision.To(link)
            : RouteDecision.Flood;
    }

    public bool AcceptInbound(ITincanLink from, Span<byte> packet)
    {
        if (packet.Length < 14 || (packet[6] & 1) != 0)
        {
            return false;
        }

        ulong source = Key(packet.Slice(6, 6));
        if (Volatile.Read(ref _static).TryGetValue(source, out ITincanLink? owner))
        {
            // A controller pinned this address to one peer: another peer claiming it is spoofing.
            return ReferenceEquals(owner, from);
        }

        if (!_learned.TryGetValue(source, out ITincanLink? known) || !ReferenceEquals(known, from))
        {
            if (known is not null || _learned.Count < MaxLearned)
            {
                _learned[source] = from;
            }
        }

        return true;
    }

    public void SetMacRoute(PhysicalAddress mac, ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(link);
        ulong key = Key(mac.GetAddressBytes());
        lock (_writeLock)
        {
            var next = new Dictionary<ulong, ITincanLink>(_static) { [key] = link };
            Volatile.Write(ref _static, next.ToFrozenDictionary());
        }

        _learned.TryRemove(key, out _);
    }

    public bool RemoveMacRoute(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        ulong key = Key(mac.GetAddressBytes());
        lock (_writeLock)
        {
            if (!_static.ContainsKey(key))
            {
                return false;
            }

            Volatile.Write(ref _static, _static.Where(p => p.Key != key).ToFrozenDictionary());
            return true;
        }
    }

    public void RemoveRoutes(ITincanLink link)
    {
        lock (_writeLock)
        {
            Volatile.Write(ref _static, _static.Where(p => !ReferenceEquals(p.Value, link)).ToFrozenDictionary());
        }

        foreach (KeyValuePair<ulong, ITincanLink> entry in _learned)
        {
            if (ReferenceEquals(entry.Value, link))
            {
                _learned.TryRemove(entry);
            }
        }
    }

    public void SetRoute(IPNetwork prefix, ITincanLink link) => throw new NotSupportedException("A TAP interface routes by MAC address, not by IP prefix.");

    public bool RemoveRoute(IPNetwork prefix) => throw new NotSupportedException("A TAP interface routes by MAC address, not by IP prefix.");

    // Frames carry no hop limit, so Tincan does not forward them between links (docs/routing.md, "TAP mode").
    public void SetForwardingRoute(IPNetwork prefix, ITincanLink nextHop) => throw new NotSupportedException(NoForwarding);

    public void SetLocal(IPNetwork prefix) => throw new NotSupportedException(NoForwarding);

    public void SetUnreachable(IPNetwork prefix) => throw new NotSupportedException(NoForwarding);

    public long? GetForwardedPackets(IPNetwork prefix) => throw new NotSupportedException(NoForwarding);

    private static ulong Key(ReadOnlySpan<byte> mac) => ((ulong)BinaryPrimitives.ReadUInt16BigEndian(mac) << 32) | BinaryPrimitives.ReadUInt32BigEndian(mac[2..]);
}
