using System.Buffers.Binary;
using System.Net.NetworkInformation;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>
/// A real Tincan node on 127.0.0.1 in switch (TAP) mode for the path MTU tests: an in-memory TAP, a
/// <see cref="LearningSwitch"/> (a mesh member, or a structured-overlay member with a ring position), and links that
/// either go straight or cross a relay that silently loses datagrams above a 1,280-byte IPv4 path.
/// </summary>
internal sealed class SwitchNode : IAsyncDisposable
{
    /// <summary>Underlay bytes the narrow path carries (IPv4; ICMP filtered).</summary>
    public const int UnderlayMtu = 1280;

    /// <summary>The largest inner payload (a frame, or a forwarded frame's shim and frame) that crosses the narrow path.</summary>
    public const int PathInner = UnderlayMtu - 20 - 8 - 32; // 1,220

    private readonly List<UdpRelay> _relays = [];

    private SwitchNode(string name, int host, ulong position, ITincan tincan, FakeNic nic, LearningSwitch router)
    {
        Name = name;
        Position = position;
        MacBytes = [0x02, 0, 0, 0, 0, (byte)host];
        Mac = new PhysicalAddress(MacBytes);
        Tincan = tincan;
        Nic = nic;
        Switch = router;
    }

    public string Name { get; }

    public PeerId Id => new(Name);

    /// <summary>The ring position; 0 for a mesh member.</summary>
    public ulong Position { get; }

    public byte[] MacBytes { get; }

    public PhysicalAddress Mac { get; }

    public ITincan Tincan { get; }

    public LinkManager Manager => (LinkManager)Tincan;

    public FakeNic Nic { get; }

    public LearningSwitch Switch { get; }

    /// <summary>Starts a member; <paramref name="position"/> 0 makes it a mesh member (no ring position).</summary>
    public static async Task<SwitchNode> StartAsync(string name, int host, ulong position = 0)
    {
        var options = new TincanOptions
        {
            ListenAddress = "127.0.0.1",
            SocketBufferBytes = 256 * 1024,
            PathMtuProbeTimeout = TimeSpan.FromMilliseconds(300),
        };
        ITincan tincan = TincanNode.Create(options, null, null);
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        var nic = new FakeNic(name) { Mode = VirtualInterfaceMode.Tap };
        var router = new LearningSwitch();
        var node = new SwitchNode(name, host, position, tincan, nic, router);
        router.SetLocal(node.Mac);
        if (position != 0)
        {
            router.SetRingPosition(position);
        }

        tincan.AttachInterface(nic, router);
        return node;
    }

    public TincanLink LinkTo(SwitchNode other) => Tincan.TryGetLink(other.Id, out ITincanLink? link) ? (TincanLink)link : throw new InvalidOperationException($"{Name} has no link to {other.Name}");

    /// <summary>
    /// Links two members as a controller would (each binds the other's MAC, and knows its ring position if it has one);
    /// a <paramref name="narrow"/> link crosses a relay that loses datagrams above <see cref="UnderlayMtu"/>, and is
    /// returned when both sides found its path MTU.
    /// </summary>
    public static async Task LinkAsync(SwitchNode a, SwitchNode b, bool narrow = false)
    {
        LinkDescriptor da = await a.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        LinkDescriptor db = await b.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        if (narrow)
        {
            // As PathMtuLinkTests: both sides reach each other only through the relay in front of b.
            var relay = new UdpRelay(b.Manager.Mux!.LocalEndPoint) { MaxDatagram = UnderlayMtu - 28 };
            a._relays.Add(relay);
            da = da with { Candidates = [new Candidate(CandidateType.Host, relay.EndPoint, 1, "via")] };
            db = db with { Candidates = [new Candidate(CandidateType.Host, relay.EndPoint, 1, "via")] };
        }

        ITincanLink ba = b.Tincan.CreateLink(a.Id, da);
        ITincanLink ab = a.Tincan.CreateLink(b.Id, db);
        await TestNode.WaitUntilAsync(() => ab.Status.State == LinkState.Connected && ba.Status.State == LinkState.Connected, $"{a.Name}<->{b.Name} connected", TimeSpan.FromSeconds(20));
        Assert.True(a.Switch.Bind(ab, b.Mac, bridge: false));
        Assert.True(b.Switch.Bind(ba, a.Mac, bridge: false));
        if (a.Position != 0 && b.Position != 0)
        {
            a.Switch.SetRingPosition(ab, b.Position);
            b.Switch.SetRingPosition(ba, a.Position);
        }

        if (narrow)
        {
            await TestNode.WaitUntilAsync(
                () => a.LinkTo(b).EffectiveMtu == PathInner && b.LinkTo(a).EffectiveMtu == PathInner && a.LinkTo(b).SendLimit == PathInner && b.LinkTo(a).SendLimit == PathInner,
                $"{a.Name}<->{b.Name} at {PathInner}",
                TimeSpan.FromSeconds(20));
        }
    }

    /// <summary>An untagged Ethernet frame of <paramref name="ip"/> (IPv4 or IPv6 by its version) from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, ReadOnlySpan<byte> ip)
    {
        byte[] frame = new byte[14 + ip.Length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), (ip[0] >> 4) == 6 ? (ushort)0x86DD : (ushort)0x0800);
        ip.CopyTo(frame.AsSpan(14));
        return frame;
    }

    /// <summary>Takes every frame written to this member's TAP so far.</summary>
    public void Drain()
    {
        for (int i = 0; i < 10_000 && Nic.TakeWritten(TimeSpan.Zero) is not null; i++)
        {
        }
    }

    public long Dropped(DropReason reason) => Manager.Drops.Get(reason);

    public async ValueTask DisposeAsync()
    {
        await Tincan.DisposeAsync();
        Nic.Dispose();
        foreach (UdpRelay relay in _relays)
        {
            relay.Dispose();
        }
    }
}
