using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Ipop.Tincan;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Benchmarks;

/// <summary>
/// Per-packet cost of overlay forwarding (issue 16) on the middle node B of a chain A–B–C of real nodes on 127.0.0.1:
/// one datagram sealed with A's session is handed to B's receive path, which opens it, asks its <see cref="RouteTable"/>,
/// and either writes it to B's interface (<see cref="Deliver"/>, the baseline) or decrements the TTL, seals it again
/// for C and sends it (<see cref="Forward"/>). Both include A's seal. Must allocate 0 B.
/// </summary>
/// <remarks>
/// The benchmark thread stands in for B's receive thread; B's own receive thread only sees keepalives meanwhile.
/// </remarks>
[MemoryDiagnoser]
[ShortRunJob(RuntimeMoniker.Net10_0)]
public class ForwardingBenchmarks
{
    private readonly List<ITincan> _nodes = [];
    private TincanLink _aToB = null!;
    private LinkManager _b = null!;
    private SocketAddress _fromA = null!;
    private byte[] _toB = null!;
    private byte[] _toC = null!;
    private byte[] _datagram = null!;

    [Params(64, 1400)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (ITincan node in _nodes)
        {
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    [Benchmark(Baseline = true)]
    public void Deliver() => Receive(_toB);

    [Benchmark]
    public void Forward() => Receive(_toC);

    private void Receive(byte[] packet)
    {
        Session session = _aToB.Snapshot!.Current;
        ulong counter = session.NextCounter();
        Span<byte> datagram = _datagram.AsSpan(0, TransportHeader.Length + packet.Length + TransportCipher.TagLength);
        TransportHeader.Write(datagram, ContentKind.Packet, session.RemoteIndex, counter);
        session.TrySeal(counter, datagram[..TransportHeader.Length], packet, datagram[TransportHeader.Length..]);
        _b.OnIpopDatagram(datagram, _fromA);
    }

    private async Task SetupAsync()
    {
        ITincan a = await StartAsync();
        ITincan b = await StartAsync();
        ITincan c = await StartAsync();
        _b = (LinkManager)b;

        var addrA = IPAddress.Parse("198.19.0.1");
        var addrB = IPAddress.Parse("198.19.0.2");
        var addrC = IPAddress.Parse("198.19.0.3");
        ITincanLink ab = await BenchmarkLinks.ConnectAsync(a, "A", b, "B");
        ITincanLink ba = b.TryGetLink(new PeerId("A"), out ITincanLink? l1) ? l1 : throw new InvalidOperationException("no B->A");
        ITincanLink bc = await BenchmarkLinks.ConnectAsync(b, "B", c, "C");
        ITincanLink cb = c.TryGetLink(new PeerId("B"), out ITincanLink? l2) ? l2 : throw new InvalidOperationException("no C->B");

        var routesB = new RouteTable();
        routesB.SetLocal(new IPNetwork(addrB, 32));
        routesB.SetRoute(new IPNetwork(addrA, 32), ba);
        routesB.SetRoute(new IPNetwork(addrC, 32), bc);
        b.AttachInterface(new SinkInterface(VirtualInterfaceMode.Tun), routesB);

        var routesC = new RouteTable();
        routesC.SetLocal(new IPNetwork(addrC, 32));
        routesC.SetForwardingRoute(new IPNetwork(addrA, 32), cb);
        c.AttachInterface(new SinkInterface(VirtualInterfaceMode.Tun), routesC);

        _aToB = (TincanLink)ab;
        _fromA = ((TincanLink)ba).Snapshot!.Path.RemoteEndPoint!.Serialize();
        _toB = Udp4(addrA, addrB, Size);
        _toC = Udp4(addrA, addrC, Size);
        _datagram = new byte[TransportHeader.Length + 1500 + TransportCipher.TagLength];
    }

    private async Task<ITincan> StartAsync()
    {
        ITincan node = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await node.StartAsync(CancellationToken.None);
        _nodes.Add(node);
        return node;
    }

    private static byte[] Udp4(IPAddress source, IPAddress destination, int length)
    {
        byte[] p = new byte[length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)length);
        p[8] = 64;
        p[9] = (byte)ProtocolType.Udp;
        source.TryWriteBytes(p.AsSpan(12), out _);
        destination.TryWriteBytes(p.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), IcmpUnreachable.Checksum(p.AsSpan(0, 20), 0));
        return p;
    }
}
