using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane.Forwarding;

/// <summary>
/// Frames across members of a structured overlay in switch mode (issue 16): real nodes on loopback linked as a ring,
/// not a mesh, so most members are reached only through others.
/// </summary>
public sealed class FrameForwardingTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>How long a frame that must not arrive is waited for (absence, so a loaded machine cannot make it fail).</summary>
    private static readonly TimeSpan Absent = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task A_broadcast_on_a_five_member_ring_reaches_every_other_member_exactly_once()
    {
        await using Ring ring = await Ring.StartAsync(5);
        (SwitchNode a, SwitchNode b, SwitchNode c, SwitchNode d, SwitchNode e) = (ring[0], ring[1], ring[2], ring[3], ring[4]);

        byte[] broadcast = SwitchNode.UdpFrame(SwitchNode.Broadcast, a.MacBytes);
        a.Nic.Inject(broadcast);
        foreach (SwitchNode member in new[] { b, c, d, e })
        {
            Assert.Equal(broadcast, member.Nic.TakeWritten(Wait));
        }

        foreach (SwitchNode member in ring.Members)
        {
            Assert.Null(member.Nic.TakeWritten(Absent)); // no second copy anywhere, none back at A
        }

        // A gives B the range up to E and E the range back to A: B passes it to C, C to D, and D's range ends at E.
        await TestNode.EqualEventuallyAsync(1, () => b.Forwarded(c), "B's copy to C", Wait);
        await TestNode.EqualEventuallyAsync(1, () => c.Forwarded(d), "C's copy to D", Wait);
        Assert.Equal(0, d.Forwarded(e));
        Assert.Equal(0, e.Forwarded(d));
        Assert.Equal(0, b.Forwarded(a));
        await TestNode.EqualEventuallyAsync(ForwardedFrameHeader.Length + broadcast.Length, () => b.LinkTo(c).GetStats().BytesForwarded, "bytes B forwarded to C", Wait);
        Assert.Equal(0, ring.Members.Sum(m => m.Dropped(DropReason.SpoofedMac) + m.Dropped(DropReason.HopLimitExceeded) + m.Dropped(DropReason.Malformed)));

        // Every member floods the same way: five broadcasts, each seen once by the four others.
        foreach (SwitchNode origin in new[] { b, c, d, e })
        {
            byte[] frame = SwitchNode.UdpFrame(SwitchNode.Broadcast, origin.MacBytes, sequence: origin.MacBytes[5]);
            origin.Nic.Inject(frame);
            foreach (SwitchNode member in ring.Members.Where(m => m != origin))
            {
                Assert.Equal(frame, member.Nic.TakeWritten(Wait));
            }
        }

        foreach (SwitchNode member in ring.Members)
        {
            Assert.Null(member.Nic.TakeWritten(Absent));
        }
    }

    [Fact]
    public async Task A_ring_link_that_is_not_up_leaves_no_member_without_a_broadcast()
    {
        // Six members, each linked to its two ring successors (so to its two predecessors too), but A's link to B never
        // comes up: B has no link to A (as while it waits for a relay). Before backfill, A's broadcast went to C with
        // the range (C, E) and B, between A and C, got nothing.
        SwitchNode[] members = await SwitchNode.StartRingAsync(6);
        await using var ring = new DisposableMembers(members);
        (SwitchNode a, SwitchNode b) = (members[0], members[1]);
        ITincanLink half = a.Tincan.CreateLink(b.Id, await b.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken));
        a.Switch.SetRingPosition(half, b.Position);
        for (int i = 0; i < members.Length; i++)
        {
            for (int step = 1; step <= 2; step++)
            {
                if (i != 0 || step != 1)
                {
                    await SwitchNode.LinkAsync(members[i], members[(i + step) % members.Length]);
                }
            }
        }

        Assert.NotEqual(LinkState.Connected, half.Status.State);

        // Every member's broadcast, A's and B's too, reaches each of the five others exactly once.
        foreach (SwitchNode origin in members)
        {
            byte[] frame = SwitchNode.UdpFrame(SwitchNode.Broadcast, origin.MacBytes, sequence: origin.MacBytes[5]);
            origin.Nic.Inject(frame);
            foreach (SwitchNode member in members.Where(m => m != origin))
            {
                Assert.True(frame.AsSpan().SequenceEqual(member.Nic.TakeWritten(Wait)), $"{origin.Name}'s broadcast at {member.Name}");
            }

            foreach (SwitchNode member in members)
            {
                Assert.Null(member.Nic.TakeWritten(Absent));
            }
        }

        Assert.Equal(0, members.Sum(m => m.Dropped(DropReason.SpoofedMac) + m.Dropped(DropReason.HopLimitExceeded) + m.Dropped(DropReason.Malformed)));
    }

    [Fact]
    public async Task A_reply_to_a_mac_learned_across_two_hops_goes_only_along_the_path_and_arrives()
    {
        await using Ring ring = await Ring.StartAsync(5);
        (SwitchNode a, SwitchNode b, SwitchNode c, SwitchNode d, SwitchNode e) = (ring[0], ring[1], ring[2], ring[3], ring[4]);

        // A's broadcast (an ARP request, say) reaches C over A-B-C: C learns A through B.
        a.Nic.Inject(SwitchNode.UdpFrame(SwitchNode.Broadcast, a.MacBytes));
        await TestNode.WaitUntilAsync(() => ring.Members.Skip(1).All(m => m.Nic.WrittenCount == 1), "the broadcast everywhere", Wait);
        foreach (SwitchNode member in ring.Members)
        {
            while (member.Nic.TakeWritten(TimeSpan.Zero) is not null)
            {
            }
        }

        byte[] reply = SwitchNode.UdpFrame(a.MacBytes, c.MacBytes, length: 300);
        c.Nic.Inject(reply);
        Assert.Equal(reply, a.Nic.TakeWritten(Wait));

        // And A's answer to C goes back through B: A learned C through B from the reply.
        byte[] answer = SwitchNode.UdpFrame(c.MacBytes, a.MacBytes, length: 200);
        a.Nic.Inject(answer);
        Assert.Equal(answer, c.Nic.TakeWritten(Wait));

        foreach (SwitchNode bystander in new[] { b, d, e })
        {
            Assert.Null(bystander.Nic.TakeWritten(Absent));
        }

        await TestNode.EqualEventuallyAsync(1, () => b.Forwarded(a), "B's forward to A", Wait);
        await TestNode.EqualEventuallyAsync(2, () => b.Forwarded(c), "B's forwards to C: the broadcast's copy, then the answer", Wait);

        // The bystanders' links carried the broadcast and nothing else (E and D are the other way round the ring).
        Assert.Equal(1, d.LinkTo(c).GetStats().PacketsReceived + d.LinkTo(e).GetStats().PacketsReceived);
        Assert.Equal(1, e.LinkTo(a).GetStats().PacketsReceived + e.LinkTo(d).GetStats().PacketsReceived);
    }

    [Fact]
    public async Task A_unicast_frame_for_a_mac_this_hop_does_not_know_is_flooded_on_from_it_and_arrives()
    {
        await using Ring ring = await Ring.StartAsync(5);
        (SwitchNode a, SwitchNode b, SwitchNode c, SwitchNode d, SwitchNode e) = (ring[0], ring[1], ring[2], ring[3], ring[4]);

        // A believes D is behind B (as after a re-plan released the link B had learned D through): B has never heard of
        // D's MAC. Dropping it would lose every frame until A's ARP entry failed; B floods it on over its other links.
        byte[] toD = SwitchNode.UdpFrame(d.MacBytes, a.MacBytes, length: 200);
        a.SendForwarded(b, hops: ForwardedFrameHeader.HopLimit, flood: false, bound: 0, toD);
        Assert.Equal(toD, d.Nic.TakeWritten(Wait));
        await TestNode.EqualEventuallyAsync(1, () => b.Forwarded(c), "B's flood of the unknown unicast to C", Wait);
        Assert.Equal(0, b.Forwarded(a)); // not back where it came from

        // The flood's range runs from B round to A; E, A's neighbour, gets a copy through D and refuses it (A's MAC is
        // bound to E's link to A: a neighbour cannot be impersonated), the one counted cost of the repair.
        await TestNode.WaitUntilAsync(() => e.Dropped(DropReason.SpoofedMac) == 1, "A's neighbour E refusing the copy from D", Wait);
        Assert.Equal(0, ring.Members.Sum(m => m.Dropped(DropReason.HopLimitExceeded) + m.Dropped(DropReason.ForwardLoop)) + a.Dropped(DropReason.SpoofedMac) + d.Dropped(DropReason.SpoofedMac));

        // D's answer teaches the path back: it is a unicast to A, which D learned behind C from the flood.
        byte[] answer = SwitchNode.UdpFrame(a.MacBytes, d.MacBytes, length: 150);
        d.Nic.Inject(answer);
        Assert.Equal(answer, a.Nic.TakeWritten(Wait));
        Assert.Null(e.Nic.TakeWritten(Absent));
        Assert.Equal(1, e.Dropped(DropReason.SpoofedMac));
    }

    [Fact]
    public async Task A_unicast_whose_learned_path_points_back_where_it_came_from_is_flooded_on_not_bounced()
    {
        await using Ring ring = await Ring.StartAsync(5);
        (SwitchNode a, SwitchNode b, SwitchNode c, SwitchNode d, SwitchNode e) = (ring[0], ring[1], ring[2], ring[3], ring[4]);
        byte[] station = [0x02, 0, 0, 0, 0xa0, 0x07];

        // B learns a station behind A (a frame from it came over A's link)...
        byte[] fromStation = SwitchNode.UdpFrame(b.MacBytes, station, length: 120);
        a.SendForwarded(b, hops: 8, flood: false, bound: 0, fromStation);
        Assert.Equal(fromStation, b.Nic.TakeWritten(Wait));

        // ...while A, which learned it behind B meanwhile, sends B a frame for it. Passing it back would bounce it; B
        // forgets its stale entry and floods it on over the ring from itself round to A. E, A's neighbour, refuses the
        // copy from D (A's MAC is bound to E's link to A), as for any destination a hop does not know.
        byte[] toStation = SwitchNode.UdpFrame(station, a.MacBytes, length: 130);
        a.SendForwarded(b, hops: 8, flood: false, bound: 0, toStation);
        foreach (SwitchNode member in new[] { b, c, d })
        {
            Assert.Equal(toStation, member.Nic.TakeWritten(Wait));
        }

        await TestNode.WaitUntilAsync(() => e.Dropped(DropReason.SpoofedMac) == 1, "E refusing A's frame from D", Wait);
        Assert.Null(a.Nic.TakeWritten(Absent));
        await TestNode.EqualEventuallyAsync(1, () => b.Forwarded(c), "B's flood copy to C", Wait);
        Assert.Equal(0, b.Dropped(DropReason.ForwardLoop) + b.Dropped(DropReason.HopLimitExceeded));

        // A negotiated MAC is never forgotten that way: a frame for A's own MAC that A sends B is a loop, dropped.
        a.SendForwarded(b, hops: 8, flood: false, bound: 0, SwitchNode.UdpFrame(a.MacBytes, station));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.ForwardLoop) == 1, "the loop counted at B", Wait);
    }

    [Fact]
    public async Task A_full_size_frame_crosses_a_hop_with_its_shim_on_top()
    {
        await using SwitchNode a = await SwitchNode.StartAsync("A", 1, 1000);
        await using SwitchNode b = await SwitchNode.StartAsync("B", 2, 2000);
        await using SwitchNode c = await SwitchNode.StartAsync("C", 3, 3000);
        await SwitchNode.LinkAsync(a, b);
        await SwitchNode.LinkAsync(b, c);
        a.Nic.Inject(SwitchNode.UdpFrame(SwitchNode.Broadcast, a.MacBytes));
        Assert.NotNull(c.Nic.TakeWritten(Wait));

        // MTU 1500 plus the Ethernet header and a VLAN tag: the largest payload a link carries, and 12 bytes more on the way.
        int largest = ((LinkManager)c.Tincan).MaxPayload;
        byte[] frame = SwitchNode.UdpFrame(a.MacBytes, c.MacBytes, length: largest);
        c.Nic.Inject(frame);
        Assert.Equal(frame, a.Nic.TakeWritten(Wait));
        await TestNode.EqualEventuallyAsync(largest + ForwardedFrameHeader.Length, () => b.LinkTo(a).GetStats().BytesForwarded, "bytes B forwarded to A", Wait);
        Assert.Equal(0, a.Dropped(DropReason.Oversize) + b.Dropped(DropReason.Oversize) + c.Dropped(DropReason.Oversize));
    }

    [Fact]
    public async Task A_forwarded_frame_whose_hops_run_out_is_dropped_and_counted_and_one_with_a_hop_left_arrives()
    {
        await using Ring ring = await Ring.StartAsync(3);
        (SwitchNode a, SwitchNode b, SwitchNode c) = (ring[0], ring[1], ring[2]);

        // From a station behind A's bridge: A's own MAC is bound to C's link to A, so C would refuse it from B.
        byte[] toC = SwitchNode.UdpFrame(c.MacBytes, [0x02, 0, 0, 0, 0xa0, 0x01]);

        // B knows C (bound to B's link to C): a unicast with one hop left dies at B.
        a.SendForwarded(b, hops: 1, flood: false, bound: 0, toC);
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.HopLimitExceeded) == 1, "the hop limit counted at B", Wait);
        Assert.Null(c.Nic.TakeWritten(Absent));
        Assert.Equal(0, b.Nic.WrittenCount);

        a.SendForwarded(b, hops: 2, flood: false, bound: 0, toC);
        Assert.Equal(toC, c.Nic.TakeWritten(Wait));

        // A flood copy with one hop left is delivered at B, but B's copy for C (inside the range up to A) is not sent.
        byte[] broadcast = SwitchNode.UdpFrame(SwitchNode.Broadcast, a.MacBytes);
        a.SendForwarded(b, hops: 1, flood: true, bound: a.Position, broadcast);
        Assert.Equal(broadcast, b.Nic.TakeWritten(Wait));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.HopLimitExceeded) == 2, "the flood's hop limit counted at B", Wait);
        Assert.Null(c.Nic.TakeWritten(Absent));
        await TestNode.EqualEventuallyAsync(1, () => b.Forwarded(c), "B's forward to C", Wait);
    }

    [Fact]
    public async Task Loops_spoofed_sources_and_malformed_shims_are_dropped_and_counted()
    {
        await using Ring ring = await Ring.StartAsync(3);
        (SwitchNode a, SwitchNode b, SwitchNode c) = (ring[0], ring[1], ring[2]);
        byte[] stranger = [0x02, 0, 0, 0, 0x77, 0x77];

        // B has A's MAC bound to its link to A: a frame from A for A would go straight back.
        a.SendForwarded(b, hops: 8, flood: false, bound: 0, SwitchNode.UdpFrame(a.MacBytes, stranger));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.ForwardLoop) == 1, "the loop counted at B", Wait);

        // C's MAC is bound to B's link to C, B's own MAC is B's: A cannot send from either.
        a.SendForwarded(b, hops: 8, flood: true, bound: a.Position, SwitchNode.UdpFrame(SwitchNode.Broadcast, c.MacBytes));
        a.SendForwarded(b, hops: 8, flood: false, bound: 0, SwitchNode.UdpFrame(c.MacBytes, b.MacBytes));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.SpoofedMac) == 2, "two spoofed frames at B", Wait);

        byte[] bad = new byte[ForwardedFrameHeader.Length + 60];
        ForwardedFrameHeader.Write(bad, 8, flood: true, bound: 1);
        bad[2] = 1;
        byte[] buffer = new byte[DatagramLayout.BufferSize(bad.Length)];
        Assert.True(((TincanLink)a.LinkTo(b)).SendPayload(buffer, bad, ContentKind.ForwardedFrame));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.Malformed) == 1, "the malformed shim at B", Wait);

        Assert.Equal(0, b.Nic.WrittenCount);
        Assert.Null(c.Nic.TakeWritten(Absent));
        Assert.Equal(0, b.Forwarded(c) + b.Forwarded(a));
    }

    [Fact]
    public async Task A_member_without_a_ring_position_drops_forwarded_frames_and_switches_as_a_mesh_does()
    {
        await using SwitchNode a = await SwitchNode.StartAsync("A", 1, 1000);
        ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" }, null, null);
        var nic = new FakeNic("M") { Mode = VirtualInterfaceMode.Tap };
        try
        {
            await tincan.StartAsync(TestContext.Current.CancellationToken);
            var mesh = new LearningSwitch();
            tincan.AttachInterface(nic, mesh);
            LinkDescriptor da = await a.Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
            LinkDescriptor dm = await tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken);
            ITincanLink am = a.Tincan.CreateLink(new PeerId("M"), dm);
            ITincanLink ma = tincan.CreateLink(a.Id, da);
            await TestNode.WaitUntilAsync(() => am.Status.State == LinkState.Connected && ma.Status.State == LinkState.Connected, "A<->M connected", Wait);

            // A structured member floods as forwarded frames; the mesh member refuses them, and its own flood is plain.
            a.Switch.SetRingPosition(am, 5000);
            a.Nic.Inject(SwitchNode.UdpFrame(SwitchNode.Broadcast, a.MacBytes));
            await TestNode.WaitUntilAsync(() => ((LinkManager)tincan).Drops.Get(DropReason.NotForwardable) == 1, "the forwarded frame refused by M", Wait);
            Assert.Equal(0, nic.WrittenCount);

            byte[] plain = SwitchNode.UdpFrame(SwitchNode.Broadcast, [0x02, 0, 0, 0, 0, 0x4d]);
            nic.Inject(plain);
            Assert.Equal(plain, a.Nic.TakeWritten(Wait));
        }
        finally
        {
            await tincan.DisposeAsync();
            nic.Dispose();
        }
    }

    [Fact]
    public async Task Forwarding_frames_allocates_nothing_per_frame_on_the_receive_thread_nor_on_the_senders_nic_thread()
    {
        var clock = new AllocationClock();
        await using SwitchNode a = await SwitchNode.StartAsync("A", 1, 1000);
        await using SwitchNode b = await SwitchNode.StartAsync("B", 2, 2000, clock);
        await using SwitchNode c = await SwitchNode.StartAsync("C", 3, 3000);
        await SwitchNode.LinkAsync(a, b);
        await SwitchNode.LinkAsync(b, c);

        // A chain, not a ring: A's broadcast reaches C through B (B's range runs from B round to A), and teaches C that
        // A is behind B; from then on C's frames for A cross B as forwarded unicast.
        a.Nic.Inject(SwitchNode.UdpFrame(SwitchNode.Broadcast, a.MacBytes));
        Assert.NotNull(c.Nic.TakeWritten(Wait));
        a.Nic.DiscardWrites = true;
        int callsBefore = clock.Calls;

        // Paced in bursts so no socket buffer overflows; the first 300 warm up (tiering, the lazy forward buffer).
        int sent = 0;
        for (int burst = 0; burst < 26; burst++)
        {
            for (int i = 0; i < 50; i++)
            {
                c.Nic.Inject(SwitchNode.UdpFrame(a.MacBytes, c.MacBytes, length: 1200, sequence: sent++));
            }

            int expected = sent;
            await TestNode.WaitUntilAsync(() => a.Nic.DiscardedCount >= expected, $"burst {burst} forwarded", Wait);
        }

        // B's switch reads its clock once per frame on the receive thread (learning C's MAC; A's is bound, so the next
        // hop needs no clock): each read records what that thread had allocated.
        int warm = callsBefore + 300;
        int last = clock.Calls;
        long allocated = clock.AllocatedBetween(warm, last);
        Assert.True(last - warm >= 900, $"{last - warm} clock reads after the warm-up");
        Assert.True(allocated < last - warm, $"B's receive thread allocated {allocated} bytes over {last - warm} forwarded frames");
        await TestNode.EqualEventuallyAsync(sent, () => b.Forwarded(a), "frames B forwarded to A", Wait);

        int reads = c.Nic.ReadBatchCalls;
        long nicAllocated = c.Nic.AllocatedBetweenReads(reads - 1000, reads - 1);
        Assert.True(nicAllocated < 1000, $"C's NIC thread allocated {nicAllocated} bytes over 1000 frames sent as forwarded frames");
    }

    /// <summary>The members of a ring overlay: each linked to its successor (and so its predecessor), nothing else.</summary>
    /// <summary>Disposes members started without <see cref="Ring"/>'s successor links.</summary>
    private sealed class DisposableMembers(SwitchNode[] members) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (SwitchNode member in members)
            {
                await member.DisposeAsync();
            }
        }
    }

    private sealed class Ring : IAsyncDisposable
    {
        private Ring(SwitchNode[] members) => Members = members;

        public SwitchNode[] Members { get; }

        public SwitchNode this[int index] => Members[index];

        public static async Task<Ring> StartAsync(int count)
        {
            var ring = new Ring(await SwitchNode.StartRingAsync(count));
            for (int i = 0; i < count; i++)
            {
                if (count > 2 || i == 0)
                {
                    await SwitchNode.LinkAsync(ring[i], ring[(i + 1) % count]);
                }
            }

            return ring;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (SwitchNode member in Members)
            {
                await member.DisposeAsync();
            }
        }
    }

    /// <summary>The system clock, recording at each read what the reading thread had allocated.</summary>
    private sealed class AllocationClock : TimeProvider
    {
        private readonly long[] _allocated = new long[20_000];
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public long AllocatedBetween(int from, int to) => _allocated[to] - _allocated[from];

        public override long GetTimestamp()
        {
            int n = Interlocked.Increment(ref _calls);
            if (n < _allocated.Length)
            {
                _allocated[n] = GC.GetAllocatedBytesForCurrentThread();
            }

            return System.GetTimestamp();
        }
    }
}
