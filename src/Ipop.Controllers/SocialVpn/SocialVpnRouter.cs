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
internal sealed class SocialVpnRouter : IPacketRouter
{
    private readonly RouteTable _routes = new();
    private ImmutableDictionary<ITincanLink, Ipv4Translation> _translations = ImmutableDictionary.Create<ITincanLink, Ipv4Translation>(ReferenceEqualityComparer.Instance);
    private long _refused;

    public SocialVpnRouter(IPNetwork pool) => _routes.SetUnreachable(pool);

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

    public RouteDecision RouteOutbound(Span<byte> packet) => _routes.RouteOutbound(packet);

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
