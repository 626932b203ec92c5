using System.Net;
using System.Net.NetworkInformation;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Ipop.Tincan;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Benchmarks;

/// <summary>
/// Per-frame cost of forwarding frames in switch mode across a structured overlay (issue 16) on the middle member B of
/// a chain A–B–C of real nodes on 127.0.0.1: one forwarded frame sealed with A's session is handed to B's receive path,
/// which opens it, checks and learns its source, and either writes it to B's interface (<see cref="Deliver"/>, the
/// baseline) or sends it on to C (<see cref="Forward"/>). <see cref="DeliverPlain"/> is a plain frame for comparison.
/// All include A's seal. Must allocate 0 B.
/// </summary>
/// <remarks>The benchmark thread stands in for B's receive thread; B's own receive thread only sees keepalives meanwhile.</remarks>
[MemoryDiagnoser]
[ShortRunJob(RuntimeMoniker.Net10_0)]
public class FrameForwardingBenchmarks
{
    private static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0x0a];
    private static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0x0b];
    private static readonly byte[] MacC = [0x02, 0, 0, 0, 0, 0x0c];

    private readonly List<ITincan> _nodes = [];
    private TincanLink _aToB = null!;
    private LinkManager _b = null!;
    private SocketAddress _fromA = null!;
    private byte[] _plainToB = null!;
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

    [Benchmark]
    public void DeliverPlain() => Receive(_plainToB, ContentKind.Packet);

    [Benchmark(Baseline = true)]
    public void Deliver() => Receive(_toB, ContentKind.ForwardedFrame);

    [Benchmark]
    public void Forward() => Receive(_toC, ContentKind.ForwardedFrame);

    private void Receive(byte[] payload, ContentKind kind)
    {
        Session session = _aToB.Snapshot!.Current;
        ulong counter = session.NextCounter();
        Span<byte> datagram = _datagram.AsSpan(0, TransportHeader.Length + payload.Length + TransportCipher.TagLength);
        TransportHeader.Write(datagram, kind, session.RemoteIndex, counter);
        session.TrySeal(counter, datagram[..TransportHeader.Length], payload, datagram[TransportHeader.Length..]);
        _b.OnIpopDatagram(datagram, _fromA);
    }

    private async Task SetupAsync()
    {
        ITincan a = await StartAsync();
        ITincan b = await StartAsync();
        ITincan c = await StartAsync();
        _b = (LinkManager)b;

        ITincanLink ab = await BenchmarkLinks.ConnectAsync(a, "A", b, "B");
        ITincanLink ba = b.TryGetLink(new PeerId("A"), out ITincanLink? l1) ? l1 : throw new InvalidOperationException("no B->A");
        ITincanLink bc = await BenchmarkLinks.ConnectAsync(b, "B", c, "C");
        ITincanLink cb = c.TryGetLink(new PeerId("B"), out ITincanLink? l2) ? l2 : throw new InvalidOperationException("no C->B");

        // B as a GroupVPN controller sets it up: its neighbours' MACs bound, every position known.
        var switchB = new LearningSwitch();
        switchB.SetLocal(new PhysicalAddress(MacB));
        switchB.SetRingPosition(2000);
        switchB.Bind(ba, new PhysicalAddress(MacA), bridge: false);
        switchB.Bind(bc, new PhysicalAddress(MacC), bridge: false);
        switchB.SetRingPosition(ba, 1000);
        switchB.SetRingPosition(bc, 3000);
        b.AttachInterface(new SinkInterface(VirtualInterfaceMode.Tap), switchB);

        var switchC = new LearningSwitch();
        switchC.SetLocal(new PhysicalAddress(MacC));
        switchC.SetRingPosition(3000);
        switchC.Bind(cb, new PhysicalAddress(MacB), bridge: false);
        switchC.SetRingPosition(cb, 2000);
        c.AttachInterface(new SinkInterface(VirtualInterfaceMode.Tap), switchC);

        _aToB = (TincanLink)ab;
        _fromA = ((TincanLink)ba).Snapshot!.Path.RemoteEndPoint!.Serialize();

        // From a station behind A's bridge, so C accepts it through B (A's own MAC would be A's alone).
        byte[] station = [0x02, 0, 0, 0, 0xa0, 0x01];
        _plainToB = Frame(MacB, MacA, Size);
        _toB = Forwarded(Frame(MacB, station, Size));
        _toC = Forwarded(Frame(MacC, station, Size));
        _datagram = new byte[TransportHeader.Length + ForwardedFrameHeader.Length + 1518 + TransportCipher.TagLength];
    }

    private static byte[] Frame(byte[] destination, byte[] source, int length)
    {
        byte[] f = new byte[length];
        destination.CopyTo(f, 0);
        source.CopyTo(f, 6);
        f[12] = 0x88; // a local experimental EtherType: no MSS clamp to look for, as for most frames
        f[13] = 0xb5;
        return f;
    }

    private static byte[] Forwarded(byte[] frame)
    {
        byte[] payload = new byte[ForwardedFrameHeader.Length + frame.Length];
        ForwardedFrameHeader.Write(payload, ForwardedFrameHeader.HopLimit, flood: false, bound: 0);
        frame.CopyTo(payload, ForwardedFrameHeader.Length);
        return payload;
    }

    private async Task<ITincan> StartAsync()
    {
        ITincan node = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await node.StartAsync(CancellationToken.None);
        _nodes.Add(node);
        return node;
    }
}
