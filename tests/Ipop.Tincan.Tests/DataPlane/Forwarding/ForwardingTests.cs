using System.Net;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Forwarding;

/// <summary>
/// Overlay forwarding between real nodes on loopback: A and C have no link, B forwards between them (issue 16).
/// </summary>
public sealed class ForwardingTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>How long a packet that must not arrive is waited for (absence, so a loaded machine cannot make it fail).</summary>
    private static readonly TimeSpan Absent = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task A_packet_from_A_reaches_C_through_B_one_hop_older_and_otherwise_byte_exact_and_the_reply_comes_back()
    {
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await ChainAsync(a, b, c);

        byte[] toC = OverlayMember.Udp4(a.Address4, c.Address4, ttl: 64);
        a.Nic.Inject(toC);
        Assert.Equal(OneHopOlder(toC), c.Nic.TakeWritten(Wait));

        byte[] toA = OverlayMember.Udp4(c.Address4, a.Address4, ttl: 2);
        c.Nic.Inject(toA);
        byte[]? back = a.Nic.TakeWritten(Wait);
        Assert.Equal(OneHopOlder(toA), back);
        Assert.Equal(1, back![8]);

        byte[] toC6 = OverlayMember.Udp6(a.Address6, c.Address6, hopLimit: 255);
        a.Nic.Inject(toC6);
        Assert.Equal(OneHopOlder(toC6), c.Nic.TakeWritten(Wait));

        await TestNode.EqualEventuallyAsync(2, () => b.LinkTo(c).GetStats().PacketsForwarded, "packets B forwarded to C", Wait);
        await TestNode.EqualEventuallyAsync(toC.Length + toC6.Length, () => b.LinkTo(c).GetStats().BytesForwarded, "bytes B forwarded to C", Wait);
        await TestNode.EqualEventuallyAsync(1, () => b.LinkTo(a).GetStats().PacketsForwarded, "packets B forwarded to A", Wait);
        await TestNode.EqualEventuallyAsync(toA.Length, () => b.LinkTo(a).GetStats().BytesForwarded, "bytes B forwarded to A", Wait);
        Assert.Equal(0, b.Nic.WrittenCount); // nothing went through B's interface
        Assert.Equal(0, a.LinkTo(b).GetStats().PacketsForwarded);
    }

    [Fact]
    public async Task A_packet_whose_hop_limit_runs_out_at_B_is_answered_with_time_exceeded_from_B()
    {
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await ChainAsync(a, b, c);

        byte[] dying = OverlayMember.Udp4(a.Address4, c.Address4, ttl: 1);
        a.Nic.Inject(dying);
        byte[]? answer = a.Nic.TakeWritten(Wait);
        Assert.NotNull(answer);
        Assert.Equal(1, answer[9]);                                         // ICMP
        Assert.Equal(b.Address4, new IPAddress(answer.AsSpan(12, 4)));      // from the hop where it died (traceroute)
        Assert.Equal(a.Address4, new IPAddress(answer.AsSpan(16, 4)));
        Assert.Equal(11, answer[20]);                                       // time exceeded
        Assert.Equal(0, answer[21]);                                        // in transit
        Assert.Equal(dying.AsSpan(0, 28).ToArray(), answer.AsSpan(28, 28).ToArray()); // quotes the packet as it arrived
        Assert.Equal(0, IcmpUnreachable.Checksum(answer.AsSpan(0, 20), 0));
        Assert.Equal(0, IcmpUnreachable.Checksum(answer.AsSpan(20), 0));

        byte[] dying6 = OverlayMember.Udp6(a.Address6, c.Address6, hopLimit: 1);
        a.Nic.Inject(dying6);
        byte[]? answer6 = a.Nic.TakeWritten(Wait);
        Assert.NotNull(answer6);
        Assert.Equal(58, answer6[6]);                                       // ICMPv6
        Assert.Equal(b.Address6, new IPAddress(answer6.AsSpan(8, 16)));
        Assert.Equal(3, answer6[40]);                                       // time exceeded
        Assert.Equal(0, answer6[41]);

        Assert.Equal(2, b.Dropped(DropReason.HopLimitExceeded));
        Assert.Null(c.Nic.TakeWritten(Absent));

        // The boundary: TTL 2 leaves B with 1 and is delivered (the destination does not need a hop left).
        byte[] last = OverlayMember.Udp4(a.Address4, c.Address4, ttl: 2);
        a.Nic.Inject(last);
        Assert.Equal(OneHopOlder(last), c.Nic.TakeWritten(Wait));
    }

    [Fact]
    public async Task A_route_that_sends_a_packet_back_where_it_came_from_is_dropped_and_counted_without_a_storm()
    {
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await ChainAsync(a, b, c);

        // A faulty B routes C back to A, A routes C to B: without the check each packet would bounce until its TTL ran out.
        b.RouteVia(c, a);
        for (int i = 0; i < 20; i++)
        {
            a.Nic.Inject(OverlayMember.Udp4(a.Address4, c.Address4, sequence: i));
        }

        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.ForwardLoop) == 20, "20 loops counted at B", Wait);
        Assert.Null(c.Nic.TakeWritten(Absent));
        Assert.Equal(20, b.Dropped(DropReason.ForwardLoop));
        Assert.Equal(20, b.LinkTo(a).GetStats().PacketsDropped);
        Assert.Equal(0, b.LinkTo(a).GetStats().PacketsForwarded);
        Assert.Equal(0, a.LinkTo(b).GetStats().PacketsReceived);
        Assert.Equal(0, a.Nic.WrittenCount);
    }

    [Fact]
    public async Task A_loop_over_three_members_ends_when_the_ttl_does()
    {
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await OverlayMember.LinkAsync(a, b);
        await OverlayMember.LinkAsync(b, c);
        await OverlayMember.LinkAsync(c, a);

        // Faulty routes for a member D (.4) and a remote member X (.8) circle A -> B -> C -> A. X's routes are
        // forwarding routes, so each hop accepts X as a source from any link: only the TTL can end the circle.
        var d = IPNetwork.Parse("198.19.0.4/32");
        var x = IPNetwork.Parse("198.19.0.8/32");
        (OverlayMember From, OverlayMember Next)[] ring = [(a, b), (b, c), (c, a)];
        foreach ((OverlayMember from, OverlayMember next) in ring)
        {
            from.Routes.SetForwardingRoute(d, from.LinkTo(next));
            from.Routes.SetForwardingRoute(x, from.LinkTo(next));
        }

        a.Nic.Inject(OverlayMember.Udp4(x.BaseAddress, d.BaseAddress, ttl: 16));
        OverlayMember[] members = [a, b, c];
        await TestNode.WaitUntilAsync(() => members.Sum(m => m.Dropped(DropReason.HopLimitExceeded)) >= 1, "the TTL ran out", Wait);

        // The time exceeded answer goes toward X around the same circle, until it reaches the member that sent it
        // (which refuses its own address as a source) or its own TTL runs out; either way the circle goes quiet.
        long forwarded = 0;
        for (int quiet = 0, round = 0; quiet < 3; round++)
        {
            // Bounded: without a hop limit the circle never goes quiet, and the range check below fails.
            if (round == 50)
            {
                break;
            }

            await Task.Delay(200, TestContext.Current.CancellationToken);
            long now = members.Sum(m => members.Where(o => o != m).Sum(o => LinkBetween(m, o).GetStats().PacketsForwarded));
            quiet = now == forwarded ? quiet + 1 : 0;
            forwarded = now;
        }

        // 16 arrives at B first: B, C, A, ... forward it with TTL 16 down to 2 (15 forwards), the 16th hop drops it.
        Assert.InRange(forwarded, 15, 15 + 64);
        Assert.Equal(1, members.Sum(m => m.Dropped(DropReason.HopLimitExceeded)));
        Assert.Equal(0, members.Sum(m => m.Nic.WrittenCount));
    }

    [Fact]
    public async Task A_forged_source_is_dropped_at_the_first_hop()
    {
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await ChainAsync(a, b, c);

        // The honest packet first, so the drops below are not a broken chain.
        byte[] honest = OverlayMember.Udp4(a.Address4, c.Address4);
        a.Nic.Inject(honest);
        Assert.Equal(OneHopOlder(honest), c.Nic.TakeWritten(Wait));

        // A source that is no member, then one of B's direct neighbours (C), whose packets can only come over C's link.
        a.Nic.Inject(OverlayMember.Udp4(IPAddress.Parse("198.19.0.77"), c.Address4));
        a.Nic.Inject(OverlayMember.Udp4(c.Address4, b.Address4));
        a.Nic.Inject(OverlayMember.Udp4(b.Address4, c.Address4)); // B's own address
        await TestNode.WaitUntilAsync(() => b.LinkTo(a).GetStats().DroppedSpoofed == 3, "3 spoofed at B", Wait);
        Assert.Null(c.Nic.TakeWritten(Absent));
        Assert.Equal(0, b.Nic.WrittenCount);
        await TestNode.EqualEventuallyAsync(1, () => b.LinkTo(c).GetStats().PacketsForwarded, "the honest packet forwarded by B", Wait);
        Assert.Equal(3, b.Dropped(DropReason.SpoofedSource));
    }

    [Fact]
    public async Task A_packet_for_an_overlay_address_no_member_has_is_answered_with_unreachable_from_the_hop()
    {
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await ChainAsync(a, b, c);

        // A believes .9 lies behind B; B has no route for it, only the overlay's unreachable prefix.
        a.Routes.SetForwardingRoute(IPNetwork.Parse("198.19.0.9/32"), a.LinkTo(b));
        byte[] lost = OverlayMember.Udp4(a.Address4, IPAddress.Parse("198.19.0.9"));
        a.Nic.Inject(lost);
        byte[]? answer = a.Nic.TakeWritten(Wait);
        Assert.NotNull(answer);
        Assert.Equal(b.Address4, new IPAddress(answer.AsSpan(12, 4)));
        Assert.Equal(a.Address4, new IPAddress(answer.AsSpan(16, 4)));
        Assert.Equal(3, answer[20]); // destination unreachable
        Assert.Equal(1, answer[21]); // host
        Assert.Equal(lost.AsSpan(0, 28).ToArray(), answer.AsSpan(28, 28).ToArray());
        Assert.Equal(1, b.Dropped(DropReason.NoRoute));

        // Outside every prefix B knows (B as an exit node): B's kernel decides, as before forwarding; not answered.
        a.Routes.SetForwardingRoute(IPNetwork.Parse("198.18.7.7/32"), a.LinkTo(b));
        byte[] outside = OverlayMember.Udp4(a.Address4, IPAddress.Parse("198.18.7.7"));
        a.Nic.Inject(outside);
        Assert.Equal(outside, b.Nic.TakeWritten(Wait));
        Assert.Null(a.Nic.TakeWritten(Absent));
        Assert.Equal(1, b.Dropped(DropReason.NoRoute));
    }

    [Fact]
    public async Task Forwarding_allocates_nothing_per_packet_on_the_receive_thread()
    {
        AllocationWatch? watch = null;
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2, routes => watch = new AllocationWatch(routes));
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await ChainAsync(a, b, c);
        c.Nic.DiscardWrites = true;

        // Paced in bursts so no socket buffer overflows; the first 300 warm up (tiering, the lazy forward buffer).
        int sent = 0;
        for (int burst = 0; burst < 26; burst++)
        {
            for (int i = 0; i < 50; i++)
            {
                a.Nic.Inject(OverlayMember.Udp4(a.Address4, c.Address4, length: 1200, sequence: sent++));
            }

            int expected = sent;
            await TestNode.WaitUntilAsync(() => c.Nic.DiscardedCount >= expected, $"burst {burst} forwarded", Wait);
        }

        int last = watch!.Calls;
        long allocated = watch.AllocatedBetween(300, last);

        // Under one byte per packet means no per-packet allocation (the smallest object is 24 bytes).
        Assert.True(allocated < last - 300, $"the receive thread allocated {allocated} bytes over {last - 300} forwarded packets");
        await TestNode.EqualEventuallyAsync(sent, () => b.LinkTo(c).GetStats().PacketsForwarded, "packets B forwarded to C", Wait);
    }

    [Fact]
    public async Task What_a_custom_router_forwards_that_cannot_be_forwarded_is_dropped_and_counted()
    {
        var router = new ForwardEverything();
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2, _ => router);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await OverlayMember.LinkAsync(a, b);
        await OverlayMember.LinkAsync(b, c);
        c.RouteVia(a, b);
        ITincanLink ab = a.LinkTo(b);

        // A link of another node cannot seal for B; bytes that are no IP packet have no hop limit.
        router.Target = ab;
        Assert.True(ab.TrySend(OverlayMember.Udp4(a.Address4, c.Address4)));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.NotForwardable) == 1, "a foreign next hop refused", Wait);
        router.Target = b.LinkTo(c);
        Assert.True(ab.TrySend(new byte[64]));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.NotForwardable) == 2, "a non-IP packet refused", Wait);

        // The same router with a real next hop and a real packet forwards: the refusals above were about the packets.
        byte[] packet = OverlayMember.Udp4(a.Address4, c.Address4);
        Assert.True(ab.TrySend(packet));
        Assert.Equal(OneHopOlder(packet), c.Nic.TakeWritten(Wait));
        Assert.Equal(2, b.LinkTo(a).GetStats().PacketsDropped);
    }

    [Fact]
    public async Task A_frame_is_never_forwarded_in_tap_mode()
    {
        var router = new ForwardEverything();
        await using OverlayMember a = await OverlayMember.StartAsync("A", 1);
        await using OverlayMember b = await OverlayMember.StartAsync("B", 2, _ => router, VirtualInterfaceMode.Tap);
        await using OverlayMember c = await OverlayMember.StartAsync("C", 3);
        await OverlayMember.LinkAsync(a, b);
        await OverlayMember.LinkAsync(b, c);
        router.Target = b.LinkTo(c);

        // A frame has no hop limit: without the shim header of docs/routing.md a loop could never end.
        Assert.True(a.LinkTo(b).TrySend(OverlayMember.Udp4(a.Address4, c.Address4)));
        await TestNode.WaitUntilAsync(() => b.Dropped(DropReason.NotForwardable) == 1, "the frame refused", Wait);
        Assert.Null(c.Nic.TakeWritten(Absent));
        Assert.Equal(0, b.LinkTo(c).GetStats().PacketsForwarded);
    }

    private static async Task ChainAsync(OverlayMember a, OverlayMember b, OverlayMember c)
    {
        await OverlayMember.LinkAsync(a, b);
        await OverlayMember.LinkAsync(b, c);
        a.RouteVia(c, b);
        c.RouteVia(a, b);
    }

    private static ITincanLink LinkBetween(OverlayMember from, OverlayMember to) => from.LinkTo(to);

    /// <summary>The packet as one forward leaves it: TTL or hop limit one less, IPv4 header checksum computed afresh.</summary>
    private static byte[] OneHopOlder(byte[] packet)
    {
        byte[] p = (byte[])packet.Clone();
        if ((p[0] >> 4) == 6)
        {
            p[7]--;
            return p;
        }

        p[8]--;
        p[10] = 0;
        p[11] = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), IcmpUnreachable.Checksum(p.AsSpan(0, 20), 0));
        return p;
    }

    /// <summary>A faulty or custom router: every inbound packet goes to <see cref="Target"/>.</summary>
    private sealed class ForwardEverything : IPacketRouter
    {
        public ITincanLink? Target { get; set; }

        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => true;

        public InboundDecision RouteInbound(ITincanLink from, Span<byte> packet) =>
            Target is { } target ? InboundDecision.Forward(target) : InboundDecision.Deliver;
    }

    /// <summary>The member's own table, recording what the receive thread had allocated at each inbound packet.</summary>
    private sealed class AllocationWatch(RouteTable routes) : IPacketRouter
    {
        private readonly long[] _allocated = new long[10_000];
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public long AllocatedBetween(int from, int to) => _allocated[to] - _allocated[from];

        public RouteDecision RouteOutbound(Span<byte> packet) => routes.RouteOutbound(packet);

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => routes.AcceptInbound(from, packet);

        public InboundDecision RouteInbound(ITincanLink from, Span<byte> packet)
        {
            int n = Interlocked.Increment(ref _calls);
            if (n < _allocated.Length)
            {
                _allocated[n] = GC.GetAllocatedBytesForCurrentThread();
            }

            return routes.RouteInbound(from, packet);
        }
    }
}
