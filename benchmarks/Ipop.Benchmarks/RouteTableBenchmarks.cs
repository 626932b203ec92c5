using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Ipop.Tincan;

namespace Ipop.Benchmarks;

/// <summary>
/// Per-packet cost of a <see cref="RouteTable"/> lookup as a structured GroupVPN member sees it (issue 16, "Big groups"):
/// one /32 and one /128 per member, the first 8 members direct neighbours and the rest behind them through forwarding
/// routes, plus the node's own addresses and the overlay's unreachable prefixes. <see cref="Routes"/> counts the member
/// routes. Each invocation routes 64 packets (IPv4 and IPv6 alternately) to members spread over the whole table, so
/// the numbers are the average per packet. Lookups must allocate 0 B.
/// </summary>
/// <remarks>
/// <see cref="SetRoutesOneByOne"/> is what a controller does when it joins a big group: it adds every member's route
/// one at a time, each write replacing the table's snapshot; it is measured per whole table, not per route.
/// </remarks>
[MemoryDiagnoser]
[ShortRunJob(RuntimeMoniker.Net10_0)]
public class RouteTableBenchmarks
{
    private const int Packets = 64;
    private const int Neighbours = 8;

    private readonly BenchLink[] _links = [.. Enumerable.Range(0, Neighbours).Select(i => new BenchLink(i))];
    private RouteTable _table = null!;
    private byte[][] _outbound = null!;
    private byte[][] _inbound = null!;
    private ITincanLink[] _arrivedOn = null!;

    /// <summary>Member routes in the table (a /32 and a /128 per member).</summary>
    [Params(10, 100, 1_000, 4_000)]
    public int Routes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int members = Routes / 2;
        _table = new RouteTable();
        _table.SetUnreachable(IPNetwork.Parse("198.18.0.0/15"));
        _table.SetUnreachable(IPNetwork.Parse("2001:2::/48"));
        _table.SetLocal(new IPNetwork(Member4(-1), 32));
        _table.SetLocal(new IPNetwork(Member6(-1), 128));
        for (int m = 0; m < members; m++)
        {
            Add(_table, m);
        }

        _outbound = new byte[Packets][];
        _inbound = new byte[Packets][];
        _arrivedOn = new ITincanLink[Packets];
        for (int i = 0; i < Packets; i++)
        {
            // Spread over the table (a stride coprime to most sizes), so an old-style linear scan is measured at its
            // average, not at its best.
            int destination = (int)((i * 7919L) % members);
            int source = (int)(((i * 104729L) + 1) % members);
            bool v6 = (i & 1) == 1;
            _outbound[i] = v6 ? Packet(Member6(-1), Member6(destination)) : Packet(Member4(-1), Member4(destination));
            _inbound[i] = v6 ? Packet(Member6(source), Member6(destination)) : Packet(Member4(source), Member4(destination));
            _arrivedOn[i] = _links[source % Neighbours];
        }
    }

    [Benchmark(OperationsPerInvoke = Packets)]
    public int RouteOutbound()
    {
        int sent = 0;
        foreach (byte[] packet in _outbound)
        {
            sent += _table.RouteOutbound(packet).Action == RouteAction.Unicast ? 1 : 0;
        }

        return sent;
    }

    [Benchmark(OperationsPerInvoke = Packets)]
    public int RouteInbound()
    {
        int forwarded = 0;
        for (int i = 0; i < _inbound.Length; i++)
        {
            forwarded += _table.RouteInbound(_arrivedOn[i], _inbound[i]).Action == InboundAction.Forward ? 1 : 0;
        }

        return forwarded;
    }

    [Benchmark]
    public int SetRoutesOneByOne()
    {
        var table = new RouteTable();
        for (int m = 0; m < Routes / 2; m++)
        {
            Add(table, m);
        }

        return table.Count;
    }

    private void Add(RouteTable table, int member)
    {
        ITincanLink link = _links[member % Neighbours];
        if (member < Neighbours)
        {
            table.SetRoute(new IPNetwork(Member4(member), 32), link);
            table.SetRoute(new IPNetwork(Member6(member), 128), link);
        }
        else
        {
            table.SetForwardingRoute(new IPNetwork(Member4(member), 32), link);
            table.SetForwardingRoute(new IPNetwork(Member6(member), 128), link);
        }
    }

    // Member -1 is this node. Addresses start at 198.18.0.10 and 2001:2::a.
    private static IPAddress Member4(int member)
    {
        uint a = 0xC612_000AU + (uint)(member + 1);
        return new IPAddress([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]);
    }

    private static IPAddress Member6(int member)
    {
        byte[] b = IPAddress.Parse("2001:2::a").GetAddressBytes();
        int id = 10 + member + 1;
        b[14] = (byte)(id >> 8);
        b[15] = (byte)id;
        return new IPAddress(b);
    }

    private static byte[] Packet(IPAddress source, IPAddress destination)
    {
        bool v6 = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        byte[] p = new byte[v6 ? 48 : 28];
        p[0] = v6 ? (byte)0x60 : (byte)0x45;
        if (!v6)
        {
            p[8] = 64;
        }

        source.TryWriteBytes(p.AsSpan(v6 ? 8 : 12), out _);
        destination.TryWriteBytes(p.AsSpan(v6 ? 24 : 16), out _);
        return p;
    }

    /// <summary>A link stand-in: a router only needs its identity.</summary>
    private sealed class BenchLink(int index) : ITincanLink
    {
        public PeerId Peer { get; } = new("n" + index.ToString(System.Globalization.CultureInfo.InvariantCulture));

        public NodePublicKey PeerKey => default;

        public LinkStatus Status => new(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);

        public LinkStats GetStats() => new();

        public bool TrySend(ReadOnlySpan<byte> packet) => true;

        public bool TrySendControl(ReadOnlySpan<byte> message) => true;
    }
}
