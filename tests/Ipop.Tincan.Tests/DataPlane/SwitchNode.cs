using System.Buffers.Binary;
using System.Net.NetworkInformation;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// A real Tincan node on 127.0.0.1 in switch (TAP) mode: an in-memory TAP, a <see cref="LearningSwitch"/> (a mesh
/// member, or a structured-overlay member with a ring position), and links that tests pick by hand (a ring, a chain)
/// and that either go straight or cross a relay that silently loses datagrams above a 1,280-byte IPv4 path.
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

    /// <summary>
    /// Starts a member; <paramref name="position"/> 0 makes it a mesh member (no ring position); <paramref name="time"/>
    /// is its switch's clock.
    /// </summary>
    public static async Task<SwitchNode> StartAsync(string name, int host, ulong position = 0, TimeProvider? time = null)
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
        var router = new LearningSwitch(timeProvider: time);
        var node = new SwitchNode(name, host, position, tincan, nic, router);
        router.SetLocal(node.Mac);
        if (position != 0)
        {
            router.SetRingPosition(position);
        }

        tincan.AttachInterface(nic, router);
        return node;
    }

    /// <summary>Starts members A, B, C... at positions 1000, 2000, 3000... (ring order is alphabetical).</summary>
    public static async Task<SwitchNode[]> StartRingAsync(int count)
    {
        var members = new SwitchNode[count];
        for (int i = 0; i < count; i++)
        {
            members[i] = await StartAsync(((char)('A' + i)).ToString(), i + 1, (ulong)(i + 1) * 1000);
        }

        return members;
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

    /// <summary>An Ethernet frame carrying an IPv4 UDP packet with a recognisable payload.</summary>
    public static byte[] UdpFrame(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, int length = 120, int sequence = 0) =>
        Frame(destination, source, Forwarding.OverlayMember.Udp4(System.Net.IPAddress.Parse("198.19.0.1"), System.Net.IPAddress.Parse("198.19.0.2"), length: length - 14, sequence: sequence));

    public static byte[] Broadcast => [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    public long Forwarded(SwitchNode to) => LinkTo(to).GetStats().PacketsForwarded;

    /// <summary>Sends raw forwarded-frame bytes (shim, then frame) over this member's link to <paramref name="to"/>, as a faulty member could.</summary>
    public void SendForwarded(SwitchNode to, byte hops, bool flood, ulong bound, byte[] frame)
    {
        byte[] payload = new byte[ForwardedFrameHeader.Length + frame.Length];
        ForwardedFrameHeader.Write(payload, hops, flood, bound);
        frame.CopyTo(payload, ForwardedFrameHeader.Length);
        byte[] buffer = new byte[DatagramLayout.BufferSize(payload.Length)];
        Assert.True(LinkTo(to).SendPayload(buffer, payload, ContentKind.ForwardedFrame));
    }

    /// <summary>Sends <paramref name="packet"/> from this member's TAP to <paramref name="to"/>'s MAC and checks that it arrives there as it was sent.</summary>
    public void AssertCrosses(SwitchNode to, byte[] packet, TimeSpan wait)
    {
        byte[] frame = Frame(to.MacBytes, MacBytes, packet);
        Nic.Inject(frame);
        Assert.Equal(frame, to.Nic.TakeWritten(wait));
    }

    /// <summary>
    /// Sends <paramref name="packet"/> (too big for the path) from this member's TAP to <paramref name="to"/>'s MAC and
    /// returns the answer written back on this member's TAP, checked to come as from <paramref name="to"/>'s MAC.
    /// </summary>
    public byte[] AnswerTo(SwitchNode to, byte[] packet, TimeSpan wait)
    {
        Nic.Inject(Frame(to.MacBytes, MacBytes, packet));
        byte[]? answer = Nic.TakeWritten(wait);
        Assert.NotNull(answer);
        Assert.Equal(MacBytes, answer[..6]);
        Assert.Equal(to.MacBytes, answer[6..12]);
        return answer;
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
