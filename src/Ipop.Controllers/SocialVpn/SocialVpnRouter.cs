using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan;

namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// SocialVPN's data-plane policy. Outbound: a packet to a friend's address in our view goes to that
/// friend's link unchanged. Inbound: the packet, addressed in the friend's view, is checked (it must come
/// from the friend's own address, to the address it gave us) and rewritten into our view.
/// Reads are lock-free snapshots, like <see cref="RouteTable"/>.
/// </summary>
/// <remarks>
/// On demand (issue 16), a packet for a friend without a working link is held (<see cref="HeldPackets"/>) instead of
/// answered as unreachable, and the first one tells the controller that the friend is wanted; the held packets go out
/// when the link connects (<see cref="ReleaseHeld"/>). A packet for a connected friend costs one status read more.
/// </remarks>
internal sealed class SocialVpnRouter : IPacketRouter
{
    private readonly RouteTable _routes = new();
    private readonly HeldPackets? _held;
    private readonly Action<PeerId>? _wanted;
    private ImmutableDictionary<ITincanLink, Ipv4Translation> _translations = ImmutableDictionary.Create<ITincanLink, Ipv4Translation>(ReferenceEqualityComparer.Instance);
    private ImmutableDictionary<uint, PeerId> _friendAt = ImmutableDictionary<uint, PeerId>.Empty;
    private long _refused;

    /// <summary>A router that routes only to links it was given (friends always linked).</summary>
    public SocialVpnRouter(IPNetwork pool) => _routes.SetUnreachable(pool);

    /// <summary>An on-demand router: packets for known friends without a working link are held and reported.</summary>
    /// <param name="pool">Our view.</param>
    /// <param name="held">Where packets wait.</param>
    /// <param name="wanted">Called (on the NIC thread: it must only queue) when a friend gets its first held packet.</param>
    public SocialVpnRouter(IPNetwork pool, HeldPackets held, Action<PeerId> wanted)
        : this(pool)
    {
        _held = held;
        _wanted = wanted;
    }

    /// <summary>Held packets (on demand), or <c>null</c>.</summary>
    public HeldPackets? Held => _held;

    /// <summary>Remembers that <paramref name="address"/> in our view is <paramref name="friend"/> (whether linked or not).</summary>
    public void SetFriendAddress(IPAddress address, PeerId friend) =>
        ImmutableInterlocked.Update(ref _friendAt, (d, kv) => d.SetItem(kv.Key, kv.Value), KeyValuePair.Create(ToUInt32(address), friend));

    /// <summary>Forgets a friend's address (it went offline or is no longer a friend).</summary>
    public void RemoveFriendAddress(IPAddress address) =>
        ImmutableInterlocked.Update(ref _friendAt, (d, a) => d.Remove(a), ToUInt32(address));

    /// <summary>Sends what is held for the link's friend through it (the link just connected).</summary>
    public int ReleaseHeld(ITincanLink link) => _held?.Release(link) ?? 0;

    /// <summary>Packets refused on arrival (not from the friend's own address, or not to us).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public void SetFriend(ITincanLink link, IPAddress myViewOfPeer, Ipv4Translation translation)
    {
        _routes.RemoveRoutes(link);
        _routes.SetRoute(new IPNetwork(myViewOfPeer, 32), link);
        ImmutableInterlocked.Update(ref _translations, (d, kv) => d.SetItem(kv.Key, kv.Value), KeyValuePair.Create(link, translation));
    }

    public void RemoveFriend(ITincanLink link)
    {
        _routes.RemoveRoutes(link);
        ImmutableInterlocked.Update(ref _translations, (d, l) => d.Remove(l), link);
    }

    public RouteDecision RouteOutbound(Span<byte> packet)
    {
        RouteDecision decision = _routes.RouteOutbound(packet);
        if (_held is null)
        {
            return decision;
        }

        switch (decision.Action)
        {
            case RouteAction.Unicast when decision.Link!.Status.State == LinkState.Connected:
                return decision; // the steady state: no allocation, no lock
            case RouteAction.Unicast:
                // Linked but not (or no longer) connected: the data plane would drop it.
                return Hold(decision.Link!.Peer, packet);
            case RouteAction.Unreachable when packet.Length >= 20 && (packet[0] >> 4) == 4
                && Volatile.Read(ref _friendAt).TryGetValue(BinaryPrimitives.ReadUInt32BigEndian(packet[16..]), out PeerId friend):
                // A friend without a link: the first packet of a flow that makes one.
                return Hold(friend, packet);
            default:
                return decision;
        }
    }

    private RouteDecision Hold(PeerId friend, Span<byte> packet)
    {
        _held!.Hold(friend, packet, out bool first);
        if (first)
        {
            _wanted!(friend);
        }

        // Dropped here either way: a held copy goes out later, one over the bounds is counted by HeldPackets.
        return RouteDecision.Drop;
    }

    public bool AcceptInbound(ITincanLink from, Span<byte> packet)
    {
        if (!Volatile.Read(ref _translations).TryGetValue(from, out Ipv4Translation t)
            || Ipv4AddressTranslator.TranslateInbound(packet, t) != Ipv4AddressTranslator.Result.Translated)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }

        return true;
    }

    public static uint ToUInt32(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }
}
