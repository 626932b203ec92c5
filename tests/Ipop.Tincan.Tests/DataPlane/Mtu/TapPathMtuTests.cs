using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>
/// Two real nodes in switch (TAP) mode, a mesh, whose link crosses a relay that silently loses datagrams above a
/// 1,280-byte IPv4 path: a frame whose IP packet is larger than the path carries is answered on the TAP as TUN mode
/// answers it, with an Ethernet frame from the station the sender talked to.
/// </summary>
public sealed class TapPathMtuTests
{
    /// <summary>The IP bytes a plain frame carries over the narrow path: the frame limit minus the Ethernet header.</summary>
    private const int IpFits = SwitchNode.PathInner - 14; // 1,206

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Absent = TimeSpan.FromMilliseconds(300);

    private static async Task<(SwitchNode A, SwitchNode B)> StartPairAsync()
    {
        SwitchNode a = await SwitchNode.StartAsync("A", 1);
        SwitchNode b = await SwitchNode.StartAsync("B", 2);
        await SwitchNode.LinkAsync(a, b, narrow: true);
        return (a, b);
    }

    [Fact]
    public async Task A_frame_that_fits_crosses_and_one_byte_more_with_df_gets_fragmentation_needed_on_the_tap()
    {
        (SwitchNode a, SwitchNode b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            a.AssertCrosses(b, TestPackets.Echo(ipv6: false, IpFits), Wait);

            long before = a.Dropped(DropReason.PathMtuExceeded);
            byte[] packet = TestPackets.Echo(ipv6: false, IpFits + 1);
            byte[] answer = a.AnswerTo(b, packet, Wait);
            Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(12)));
            Assert.Equal(TestPackets.Destination(false), new IPAddress(answer.AsSpan(14 + 12, 4)));
            Assert.Equal(TestPackets.Source(false), new IPAddress(answer.AsSpan(14 + 16, 4)));
            Assert.Equal((3, 4), (answer[34], answer[35]));
            Assert.Equal(IpFits, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(34 + 6)));
            Assert.True(answer.AsSpan(34 + 8).SequenceEqual(packet.AsSpan(0, answer.Length - 42)));
            Assert.Equal(before + 1, a.Dropped(DropReason.PathMtuExceeded));
            Assert.Null(b.Nic.TakeWritten(Absent));
        }
    }

    [Fact]
    public async Task An_ipv6_frame_above_1280_gets_packet_too_big_and_one_of_1280_or_less_is_sent_as_it_is()
    {
        (SwitchNode a, SwitchNode b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            a.Nic.Inject(SwitchNode.Frame(b.MacBytes, a.MacBytes, TestPackets.Echo(ipv6: true, 1281)));
            byte[]? answer = a.Nic.TakeWritten(Wait);
            Assert.NotNull(answer);
            Assert.Equal(a.MacBytes, answer[..6]);
            Assert.Equal(0x86DD, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(12)));
            Assert.Equal(2, answer[14 + 40]);
            Assert.Equal(1280u, BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(14 + 44))); // never below IPv6's minimum
            Assert.True(TestPackets.L4ChecksumVerifies(answer.AsSpan(14), ipv6: true, 58));

            // 1,280 bytes of IPv6 is 1,294 of frame: more than the path's 1,220, but no smaller MTU may be advertised.
            long sent = a.LinkTo(b).GetStats().PacketsSent;
            long drops = a.Dropped(DropReason.PathMtuExceeded);
            a.Nic.Inject(SwitchNode.Frame(b.MacBytes, a.MacBytes, TestPackets.Echo(ipv6: true, 1280)));
            await TestNode.WaitUntilAsync(() => a.LinkTo(b).GetStats().PacketsSent > sent, "the 1,280-byte IPv6 frame sent");
            Assert.Null(a.Nic.TakeWritten(Absent));
            Assert.Equal(drops, a.Dropped(DropReason.PathMtuExceeded));
        }
    }

    [Fact]
    public async Task Frames_without_df_for_a_group_address_or_vlan_tagged_are_sent_as_they_are()
    {
        (SwitchNode a, SwitchNode b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            // 802.1Q: VLAN 42, then IPv4 with DF. Tagged frames are left alone (neither clamped nor answered).
            byte[] packet = TestPackets.Echo(ipv6: false, 1300);
            byte[] tagged = new byte[18 + packet.Length];
            b.MacBytes.CopyTo(tagged, 0);
            a.MacBytes.CopyTo(tagged, 6);
            BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 42);
            BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(16), 0x0800);
            packet.CopyTo(tagged, 18);
            byte[][] frames =
            [
                SwitchNode.Frame(b.MacBytes, a.MacBytes, TestPackets.Echo(ipv6: false, 1300, dontFragment: false)),
                SwitchNode.Frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], a.MacBytes, TestPackets.Echo(ipv6: false, 1300)),
                SwitchNode.Frame([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], a.MacBytes, TestPackets.Echo(ipv6: false, 1300)),
                SwitchNode.Frame([0x33, 0x33, 0x00, 0x00, 0x00, 0x01], a.MacBytes, TestPackets.Echo(ipv6: true, 1300)),
                tagged,
            ];

            foreach (byte[] frame in frames)
            {
                long sent = a.LinkTo(b).GetStats().PacketsSent;
                a.Nic.Inject(frame);
                await TestNode.WaitUntilAsync(() => a.LinkTo(b).GetStats().PacketsSent > sent, $"frame to {Convert.ToHexString(frame, 0, 6)} (EtherType {frame[12]:x2}{frame[13]:x2}) sent");
            }

            Assert.Null(a.Nic.TakeWritten(Absent));
            Assert.Equal(0, a.Dropped(DropReason.PathMtuExceeded));
        }
    }

    [Fact]
    public async Task Answers_are_limited_to_100_a_second_and_the_answer_path_allocates_nothing_per_frame()
    {
        (SwitchNode a, SwitchNode b) = await StartPairAsync();
        await using (a)
        await using (b)
        {
            a.Nic.DiscardWrites = true;
            byte[] frame = SwitchNode.Frame(b.MacBytes, a.MacBytes, TestPackets.Echo(ipv6: false, 1300));

            // One frame first (the budget and the counters' first use), then a burst well above the budget.
            a.Nic.Inject(frame);
            await TestNode.WaitUntilAsync(() => a.Nic.DiscardedCount == 1, "the first answer");
            const int Burst = 300;
            int firstRead = a.Nic.ReadBatchCalls;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < Burst; i++)
            {
                a.Nic.Inject(frame);
            }

            await TestNode.WaitUntilAsync(() => a.Dropped(DropReason.PathMtuExceeded) == Burst + 1, "every frame refused");
            double seconds = clock.Elapsed.TotalSeconds;

            // The budget is a fixed one-second window: within one second (the usual case, a burst takes milliseconds)
            // exactly 100 answers; a machine that stalls longer may start at most one more window per second.
            long answered = a.Nic.DiscardedCount;
            TestContext.Current.TestOutputHelper?.WriteLine($"{Burst + 1} frames refused in {seconds:F3} s, {answered} answered");
            Assert.True(answered >= 100, $"only {answered} answers");
            Assert.True(answered <= 100 * (1 + (long)Math.Ceiling(seconds)), $"{answered} answers in {seconds:F2} s");
            if (seconds < 0.9)
            {
                Assert.Equal(100, answered);
            }

            // Between the reads of the burst (one frame each) the NIC thread routed and refused, writing the first 100
            // answers from its scratch: under one byte per frame means nothing was allocated per frame.
            int calls = a.Nic.ReadBatchCalls;
            Assert.True(calls - firstRead >= 50, $"only {calls - firstRead} reads");
            long allocated = a.Nic.AllocatedBetweenReads(firstRead + 1, calls - 1);
            TestContext.Current.TestOutputHelper?.WriteLine($"{allocated} bytes allocated between {calls - firstRead - 2} reads");
            Assert.True(allocated < Burst / 2, $"the NIC thread allocated {allocated} bytes answering {calls - firstRead} reads");
            Assert.Null(b.Nic.TakeWritten(Absent));
        }
    }
}
