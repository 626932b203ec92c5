using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// The built-in TAP router: the data plane's own <see cref="LearningSwitch"/> (an Ethernet switch whose ports are links)
/// behind the API's router contract. Static entries come from the controller (<c>route.set</c> with a MAC); other
/// source addresses are learned from frames that arrive on a link. Broadcast, multicast and unknown unicast are flooded.
/// In a full mesh a frame from a link is never sent back to links (split horizon); once the controller gives ring
/// positions (<c>ring.set</c>), frames cross members (docs/routing.md, "TAP mode"), and a member's MAC may have a
/// forwarding route through a next hop (<c>route.set</c> with <c>"kind":"forward"</c>, <see cref="LearningSwitch.SetMemberRoute"/>).
/// </summary>
/// <remarks>
/// A static entry is <see cref="LearningSwitch.Bind"/> with <c>bridge: true</c>: no other link may send from the MAC,
/// and the link may still send from stations learned behind it, as before. The switch binds one MAC per link, so a
/// link gets one static entry; and it unbinds only through <see cref="LearningSwitch.Forget"/>, which also forgets the
/// link's learned stations (they are learned again from the next frames), its ring position and the member routes
/// through it, which this router puts back. Writers are serialized by the server; the lock only keeps the bookkeeping
/// consistent if a host calls directly.
/// </remarks>
internal sealed class MacRouter : IControllerRouter
{
    private const string NoRouteKinds =
        "A TAP interface routes by MAC address; its frames cross members by ring position (SetRingPosition, docs/routing.md \"TAP mode\"), and a member's MAC takes a forwarding route (SetMacForwardingRoute), not an IP prefix.";

    /// <summary>The I/G bit of a MAC as <see cref="Key"/> packs it: set for broadcast and multicast (group) addresses.</summary>
    private const ulong GroupBit = 0x0100_0000_0000UL;

    private readonly LearningSwitch _switch = new();
    private readonly Lock _writeLock = new();
    private readonly Dictionary<ulong, ITincanLink> _pinned = [];
    private readonly Dictionary<ITincanLink, ulong> _pinOf = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<ITincanLink, ulong> _positions = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<ulong, ITincanLink> _memberRoutes = [];

    /// <summary>
    /// What the server attaches to Tincan instead of this wrapper: Tincan forwards frames between members of a structured
    /// overlay only when its router is a <see cref="LearningSwitch"/> (docs/routing.md, "TAP mode").
    /// </summary>
    public LearningSwitch Switch => _switch;

    public RouteDecision RouteOutbound(Span<byte> packet) => _switch.RouteOutbound(packet);

    public bool AcceptInbound(ITincanLink from, Span<byte> packet) => _switch.AcceptInbound(from, packet);

    /// <exception cref="ArgumentException"><paramref name="link"/> has another MAC pinned already, or the switch refused the MAC (this node's own).</exception>
    public void SetMacRoute(PhysicalAddress mac, ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(link);
        ulong key = Key(mac.GetAddressBytes());
        lock (_writeLock)
        {
            if (_pinOf.TryGetValue(link, out ulong existing) && existing != key)
            {
                throw new ArgumentException(
                    $"the link to '{link.Peer.Value}' has {Format(existing)} pinned already, and the switch pins one MAC per link (stations behind it are learned); route.remove that route first.");
            }

            if (_pinned.TryGetValue(key, out ITincanLink? owner) && !ReferenceEquals(owner, link))
            {
                // Setting a route for a MAC another link has replaces it, as it did before the switch bound MACs.
                Unpin(owner);
            }

            if (!_switch.Bind(link, mac, bridge: true))
            {
                throw new ArgumentException($"the switch refused to pin {Format(key)} (it is this node's own MAC address, or bound to a link by the host).");
            }

            _pinned[key] = link;
            _pinOf[link] = key;
        }
    }

    public bool RemoveMacRoute(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        lock (_writeLock)
        {
            if (!_pinned.TryGetValue(Key(mac.GetAddressBytes()), out ITincanLink? link))
            {
                return false;
            }

            Unpin(link);
            return true;
        }
    }

    /// <exception cref="ArgumentException">The switch refused <paramref name="mac"/>: this node's own MAC address (or a group address).</exception>
    public void SetMacForwardingRoute(PhysicalAddress mac, ITincanLink nextHop)
    {
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(nextHop);
        ulong key = Key(mac.GetAddressBytes());
        lock (_writeLock)
        {
            if (!_switch.SetMemberRoute(mac, nextHop))
            {
                // The server lets no group address through; a host calling directly may.
                throw new ArgumentException((key & GroupBit) != 0
                    ? $"{Format(key)} is a group (broadcast or multicast) address: the switch floods frames for it and never routes them through a next hop."
                    : $"{Format(key)} is this node's own MAC address: the switch delivers frames for it to the interface, so it cannot be routed through a next hop.");
            }

            _memberRoutes[key] = nextHop;
        }
    }

    public bool RemoveMacForwardingRoute(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        lock (_writeLock)
        {
            _memberRoutes.Remove(Key(mac.GetAddressBytes()));
            return _switch.RemoveMemberRoute(mac);
        }
    }

    public void RemoveRoutes(ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        lock (_writeLock)
        {
            if (_pinOf.Remove(link, out ulong key))
            {
                _pinned.Remove(key);
            }

            _positions.Remove(link);
            foreach (ulong member in RoutedThrough(link))
            {
                _memberRoutes.Remove(member);
            }

            _switch.Forget(link);
        }
    }

    public void SetRingPosition(ulong position) => _switch.SetRingPosition(position);

    public void SetRingPosition(ITincanLink link, ulong position)
    {
        ArgumentNullException.ThrowIfNull(link);
        lock (_writeLock)
        {
            _positions[link] = position;
            _switch.SetRingPosition(link, position);
        }
    }

    public void SetRoute(IPNetwork prefix, ITincanLink link) => throw new NotSupportedException("A TAP interface routes by MAC address, not by IP prefix.");

    public bool RemoveRoute(IPNetwork prefix) => throw new NotSupportedException("A TAP interface routes by MAC address, not by IP prefix.");

    // Route kinds are the TUN data plane's forwarding; a TAP interface's frames cross members by ring position instead.
    public void SetForwardingRoute(IPNetwork prefix, ITincanLink nextHop) => throw new NotSupportedException(NoRouteKinds);

    public void SetLocal(IPNetwork prefix) => throw new NotSupportedException(NoRouteKinds);

    public void SetUnreachable(IPNetwork prefix) => throw new NotSupportedException(NoRouteKinds);

    public long? GetForwardedPackets(IPNetwork prefix) => throw new NotSupportedException(NoRouteKinds);

    /// <summary>
    /// Unbinds <paramref name="link"/>'s static MAC: the switch can only forget the whole link, so its ring position and
    /// the member routes through it are set again.
    /// </summary>
    private void Unpin(ITincanLink link)
    {
        if (_pinOf.Remove(link, out ulong key))
        {
            _pinned.Remove(key);
        }

        _switch.Forget(link);
        if (_positions.TryGetValue(link, out ulong position))
        {
            _switch.SetRingPosition(link, position);
        }

        foreach (ulong member in RoutedThrough(link))
        {
            // Accepted before, and Forget changed nothing that could make the switch refuse it now.
            _switch.SetMemberRoute(ToMac(member), link);
        }
    }

    /// <summary>The MACs whose member route goes through <paramref name="link"/> (a copy: callers change the dictionary).</summary>
    private List<ulong> RoutedThrough(ITincanLink link) =>
        [.. _memberRoutes.Where(r => ReferenceEquals(r.Value, link)).Select(r => r.Key)];

    private static ulong Key(ReadOnlySpan<byte> mac) => ((ulong)BinaryPrimitives.ReadUInt16BigEndian(mac) << 32) | BinaryPrimitives.ReadUInt32BigEndian(mac[2..]);

    private static PhysicalAddress ToMac(ulong key)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, key);
        return new PhysicalAddress(bytes[2..].ToArray());
    }

    private static string Format(ulong key) => Names.Mac(ToMac(key));
}
