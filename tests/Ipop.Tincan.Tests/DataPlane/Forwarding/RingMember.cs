using System.Buffers.Binary;
using System.Net.NetworkInformation;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane.Forwarding;

/// <summary>
/// A real Tincan node on 127.0.0.1 in switch mode: an in-memory TAP and a <see cref="LearningSwitch"/> with a ring
/// position, one member of a structured overlay whose links tests pick by hand (a ring, a chain).
/// </summary>
internal sealed class RingMember : IAsyncDisposable
{
    private RingMember(string name, int host, ulong position, ITincan tincan, FakeNic nic, LearningSwitch router)
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

    public ulong Position { get; }

    public byte[] MacBytes { get; }

    public PhysicalAddress Mac { get; }

    public ITincan Tincan { get; }

    public LinkManager Manager => (LinkManager)Tincan;

    public FakeNic Nic { get; }

    public LearningSwitch Switch { get; }

    /// <summary>Starts a member at ring <paramref name="position"/>; <paramref name="time"/> is its switch's clock.</summary>
    public static async Task<RingMember> StartAsync(string name, int host, ulong position, TimeProvider? time = null)
    {
        ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 }, null, null);
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        var nic = new FakeNic(name) { Mode = VirtualInterfaceMode.Tap };
        var router = new LearningSwitch(timeProvider: time);
        var member = new RingMember(name, host, position, tincan, nic, router);
        router.SetLocal(member.Mac);
        router.SetRingPosition(position);
        tincan.AttachInterface(nic, router);
        return member;
    }

    /// <summary>Starts members A, B, C... at positions 1000, 2000, 3000... (ring order is alphabetical).</summary>
    public static async Task<RingMember[]> StartRingAsync(int count)
    {
        var members = new RingMember[count];
        for (int i = 0; i < count; i++)
        {
            members[i] = await StartAsync(((char)('A' + i)).ToString(), i + 1, (ulong)(i + 1) * 1000);
        }

        return members;
    }

    public ITincanLink LinkTo(RingMember other) => Tincan.TryGetLink(other.Id, out ITincanLink? link) ? link : throw new InvalidOperationException($"{Name} has no link to {other.Name}");

    /// <summary>Links two members as a GroupVPN controller would: each binds the other's MAC and knows its ring position.</summary>
    public static async Task LinkAsync(RingMember a, RingMember b)
    {
        LinkDescriptor da = await a.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        LinkDescriptor db = await b.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
        ITincanLink ab = a.Tincan.CreateLink(b.Id, db);
        ITincanLink ba = b.Tincan.CreateLink(a.Id, da);
        await TestNode.WaitUntilAsync(() => ab.Status.State == LinkState.Connected && ba.Status.State == LinkState.Connected, $"{a.Name}<->{b.Name} connected", TimeSpan.FromSeconds(20));
        Assert.True(a.Switch.Bind(ab, b.Mac, bridge: false));
        Assert.True(b.Switch.Bind(ba, a.Mac, bridge: false));
        a.Switch.SetRingPosition(ab, b.Position);
        b.Switch.SetRingPosition(ba, a.Position);
    }

    public long Dropped(DropReason reason) => Manager.Drops.Get(reason);

    public long Forwarded(RingMember to) => LinkTo(to).GetStats().PacketsForwarded;

    /// <summary>Sends raw forwarded-frame bytes (shim, then frame) over this member's link to <paramref name="to"/>, as a faulty member could.</summary>
    public void SendForwarded(RingMember to, byte hops, bool flood, ulong bound, byte[] frame)
    {
        byte[] payload = new byte[ForwardedFrameHeader.Length + frame.Length];
        ForwardedFrameHeader.Write(payload, hops, flood, bound);
        frame.CopyTo(payload, ForwardedFrameHeader.Length);
        byte[] buffer = new byte[DatagramLayout.BufferSize(payload.Length)];
        Assert.True(((TincanLink)LinkTo(to)).SendPayload(buffer, payload, ContentKind.ForwardedFrame));
    }

    /// <summary>An Ethernet frame carrying an IPv4 UDP packet with a recognisable payload.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, int length = 120, int sequence = 0)
    {
        byte[] f = new byte[length];
        destination.CopyTo(f);
        source.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        byte[] packet = OverlayMember.Udp4(System.Net.IPAddress.Parse("198.19.0.1"), System.Net.IPAddress.Parse("198.19.0.2"), length: length - 14, sequence: sequence);
        packet.CopyTo(f, 14);
        return f;
    }

    public static byte[] Broadcast => [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    public async ValueTask DisposeAsync()
    {
        await Tincan.DisposeAsync();
        Nic.Dispose();
    }
}
