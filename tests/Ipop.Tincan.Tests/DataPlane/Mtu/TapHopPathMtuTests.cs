using System.Buffers.Binary;
using System.Net;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>
/// Frames that cross a member of a structured overlay in switch mode (forwarded frames, a 12-byte shim in front): four
/// real members linked as a ring A-B-C-D, one of whose links crosses a 1,280-byte path that loses larger datagrams
/// silently. C reaches A only through B, so a frame from C to A is too big either for C's own link to B (answered by C)
/// or for B's link on to A (answered by B, back over the overlay).
/// </summary>
public sealed class TapHopPathMtuTests
{
    /// <summary>The IP bytes a forwarded frame carries over the narrow path: its limit minus the shim and the Ethernet header.</summary>
    private const int IpFitsThroughHop = SwitchNode.PathInner - ForwardedFrameHeader.Length - 14; // 1,194

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Absent = TimeSpan.FromMilliseconds(300);

    /// <summary>Starts A, B, C, D at ring positions 1000-4000 and links the ring; the link between <paramref name="narrow"/> is the small path.</summary>
    private static async Task<SwitchNode[]> StartRingAsync((int From, int To) narrow)
    {
        var ring = new SwitchNode[4];
        for (int i = 0; i < ring.Length; i++)
        {
            ring[i] = await SwitchNode.StartAsync(((char)('A' + i)).ToString(), i + 1, (ulong)(i + 1) * 1000);
        }

        for (int i = 0; i < ring.Length; i++)
        {
            int next = (i + 1) % ring.Length;
            await SwitchNode.LinkAsync(ring[i], ring[next], narrow: (i, next) == narrow || (next, i) == narrow);
        }

        // A's broadcast (an ARP request, say) reaches C over A-B-C only: C learns A's MAC through B.
        SwitchNode a = ring[0];
        a.Nic.Inject(SwitchNode.Frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], a.MacBytes, TestPackets.Echo(ipv6: false, 100)));
        await TestNode.WaitUntilAsync(() => ring[1].Nic.WrittenCount == 1 && ring[2].Nic.WrittenCount == 1 && ring[3].Nic.WrittenCount == 1, "the broadcast everywhere", Wait);
        foreach (SwitchNode member in ring)
        {
            member.Drain();
        }

        return ring;
    }

    private static async Task DisposeAsync(SwitchNode[] ring)
    {
        foreach (SwitchNode member in ring)
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_frame_too_big_for_the_first_link_to_a_hop_is_answered_on_the_senders_tap_naming_the_size_less_the_shim()
    {
        SwitchNode[] ring = await StartRingAsync(narrow: (1, 2));
        try
        {
            (SwitchNode a, SwitchNode b, SwitchNode c) = (ring[0], ring[1], ring[2]);

            // Exactly what fits with the shim on top crosses B to A.
            c.AssertCrosses(a, TestPackets.Echo(ipv6: false, IpFitsThroughHop), Wait);

            byte[] packet = TestPackets.Echo(ipv6: false, IpFitsThroughHop + 1);
            byte[] answer = c.AnswerTo(a, packet, Wait);
            Assert.Equal(TestPackets.Destination(false), new IPAddress(answer.AsSpan(14 + 12, 4)));
            Assert.Equal((3, 4), (answer[34], answer[35]));
            Assert.Equal(IpFitsThroughHop, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(34 + 6)));
            Assert.Equal(1, c.Dropped(DropReason.PathMtuExceeded));
            Assert.Null(a.Nic.TakeWritten(Absent));
        }
        finally
        {
            await DisposeAsync(ring);
        }
    }

    [Fact]
    public async Task A_frame_too_big_for_the_link_after_a_transit_hop_is_answered_by_the_hop_back_over_the_overlay()
    {
        SwitchNode[] ring = await StartRingAsync(narrow: (0, 1));
        try
        {
            (SwitchNode a, SwitchNode b, SwitchNode c) = (ring[0], ring[1], ring[2]);

            c.AssertCrosses(a, TestPackets.Echo(ipv6: false, IpFitsThroughHop), Wait);

            // C's own link to B carries the frame; B's link on to A does not. B answers as if it were A, over the link
            // the frame came on, and C delivers the answer to the sender (its own station here).
            byte[] packet = TestPackets.Echo(ipv6: true, 1300);
            byte[] answer = c.AnswerTo(a, packet, Wait);
            Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(12)));
            Assert.Equal(TestPackets.Destination(true), new IPAddress(answer.AsSpan(14 + 8, 16)));
            Assert.Equal(TestPackets.Source(true), new IPAddress(answer.AsSpan(14 + 24, 16)));
            Assert.Equal(2, answer[14 + 40]);
            Assert.Equal(1280u, BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(14 + 44)));
            Assert.True(TestPackets.L4ChecksumVerifies(answer.AsSpan(14), ipv6: true, 58));
            await TestNode.EqualEventuallyAsync(1, () => b.Dropped(DropReason.PathMtuExceeded), "B's refusal", Wait);
            Assert.Equal(0, c.Dropped(DropReason.PathMtuExceeded));

            // The answer taught no member a wrong path, and nothing was refused as spoofed: the next frame still crosses.
            Assert.Null(a.Nic.TakeWritten(Absent));
            c.AssertCrosses(a, TestPackets.Echo(ipv6: false, IpFitsThroughHop), Wait);
            Assert.Equal(0, ring.Sum(m => m.Dropped(DropReason.SpoofedMac)));
        }
        finally
        {
            await DisposeAsync(ring);
        }
    }
}
