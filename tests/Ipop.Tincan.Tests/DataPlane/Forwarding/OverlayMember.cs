using System.Buffers.Binary;
using System.Net;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Forwarding;

/// <summary>
/// A real Tincan node on 127.0.0.1 with an in-memory TUN and a <see cref="RouteTable"/> that knows its own addresses:
/// one member of an overlay whose links tests pick by hand (A–B–C without A–C, a triangle with a loop).
/// </summary>
internal sealed class OverlayMember : IAsyncDisposable
{
    public static readonly IPNetwork Subnet4 = IPNetwork.Parse("198.19.0.0/24");
    public static readonly IPNetwork Subnet6 = IPNetwork.Parse("2001:2::/64");

    private OverlayMember(string name, int host, ITincan tincan, FakeNic nic, RouteTable routes)
    {
        Name = name;
        Address4 = IPAddress.Parse($"198.19.0.{host}");
        Address6 = IPAddress.Parse($"2001:2::{host}");
        Tincan = tincan;
        Nic = nic;
        Routes = routes;
    }

    public string Name { get; }

    public PeerId Id => new(Name);

    public IPAddress Address4 { get; }

    public IPAddress Address6 { get; }

    public ITincan Tincan { get; }

    public LinkManager Manager => (LinkManager)Tincan;

    public FakeNic Nic { get; }

    public RouteTable Routes { get; }

    /// <summary>Starts a member; <paramref name="router"/> wraps its table when a test needs to watch the router.</summary>
    public static async Task<OverlayMember> StartAsync(string name, int host, Func<RouteTable, IPacketRouter>? router = null, VirtualInterfaceMode mode = VirtualInterfaceMode.Tun)
    {
        ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 }, null, null);
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        var nic = new FakeNic(name) { Mode = mode };
        var routes = new RouteTable();
        var member = new OverlayMember(name, host, tincan, nic, routes);
        routes.SetLocal(new IPNetwork(member.Address4, 32));
        routes.SetLocal(new IPNetwork(member.Address6, 128));
        routes.SetUnreachable(Subnet4);
        routes.SetUnreachable(Subnet6);
        tincan.AttachInterface(nic, router?.Invoke(routes) ?? routes);
        return member;
    }

    public ITincanLink LinkTo(OverlayMember other) => Tincan.TryGetLink(other.Id, out ITincanLink? link) ? link : throw new InvalidOperationException($"{Name} has no link to {other.Name}");

    /// <summary>Links two members and routes each one's addresses directly over the link.</summary>
    public static async Task LinkAsync(OverlayMember a, OverlayMember b)
    {
        LinkDescriptor da = await a.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        LinkDescriptor db = await b.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        ITincanLink ab = a.Tincan.CreateLink(b.Id, db);
        ITincanLink ba = b.Tincan.CreateLink(a.Id, da);
        await TestNode.WaitUntilAsync(() => ab.Status.State == LinkState.Connected && ba.Status.State == LinkState.Connected, $"{a.Name}<->{b.Name} connected", TimeSpan.FromSeconds(20));
        a.RouteDirect(b, ab);
        b.RouteDirect(a, ba);
    }

    /// <summary>Routes <paramref name="to"/>'s addresses through <paramref name="via"/> (a member this one has a link to).</summary>
    public void RouteVia(OverlayMember to, OverlayMember via)
    {
        Routes.SetForwardingRoute(new IPNetwork(to.Address4, 32), LinkTo(via));
        Routes.SetForwardingRoute(new IPNetwork(to.Address6, 128), LinkTo(via));
    }

    public long Dropped(DropReason reason) => Manager.Drops.Get(reason);

    /// <summary>An IPv4 UDP packet with a valid header checksum and a recognisable payload.</summary>
    public static byte[] Udp4(IPAddress source, IPAddress destination, byte ttl = 64, int length = 120, int sequence = 0)
    {
        byte[] p = new byte[length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)sequence);
        p[6] = 0x40; // DF
        p[8] = ttl;
        p[9] = 17;
        source.TryWriteBytes(p.AsSpan(12), out _);
        destination.TryWriteBytes(p.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 9);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), (ushort)(length - 20));
        for (int i = 28; i < length; i++)
        {
            p[i] = (byte)(i * 7 + sequence);
        }

        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), IcmpUnreachable.Checksum(p.AsSpan(0, 20), 0));
        return p;
    }

    /// <summary>An IPv6 UDP packet (the UDP checksum is not checked by anything on the way).</summary>
    public static byte[] Udp6(IPAddress source, IPAddress destination, byte hopLimit = 64, int length = 120)
    {
        byte[] p = new byte[length];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(length - 40));
        p[6] = 17;
        p[7] = hopLimit;
        source.TryWriteBytes(p.AsSpan(8), out _);
        destination.TryWriteBytes(p.AsSpan(24), out _);
        for (int i = 40; i < length; i++)
        {
            p[i] = (byte)(i * 3);
        }

        return p;
    }

    public async ValueTask DisposeAsync()
    {
        await Tincan.DisposeAsync();
        Nic.Dispose();
    }

    private void RouteDirect(OverlayMember peer, ITincanLink link)
    {
        Routes.SetRoute(new IPNetwork(peer.Address4, 32), link);
        Routes.SetRoute(new IPNetwork(peer.Address6, 128), link);
    }
}
