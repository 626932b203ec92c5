using Ipop.Controllers.GroupVpn.Topology;

namespace Ipop.Controllers.Tests.GroupVpn.Topology;

public sealed class GreedyRingRouterTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(5000)]
    public void Every_random_pair_is_reached_within_log2_n_squared_hops(int n)
    {
        StructuredPlan plan = StructuredPlan.Build(StructuredPlanTests.Members(n, 100 + n), 2);
        var random = new Random(n);
        int limit = Math.Max(1, StructuredPlan.CeilLog2(n) * StructuredPlan.CeilLog2(n));
        long total = 0;
        int worst = 0;
        const int Pairs = 2000;
        for (int p = 0; p < Pairs; p++)
        {
            int source = random.Next(n);
            int destination = random.Next(n);
            int hops = Route(plan, source, destination);
            Assert.True(hops >= 0, $"N={n}: {source} -> {destination} got stuck");
            Assert.True(hops <= limit && hops <= GreedyRingRouter.MaxHops, $"N={n}: {source} -> {destination} took {hops} hops");
            total += hops;
            worst = Math.Max(worst, hops);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"N={n}: mean {total / (double)Pairs:F2} hops, worst {worst}");
        // Symphony's bound is O(log² N / links); measured: mean 5.8 hops (worst 18) at 1,000, 7.6 (worst 18) at 5,000.
        Assert.True(total / (double)Pairs <= StructuredPlan.CeilLog2(n), $"N={n}: mean {total / (double)Pairs:F2}, worst {worst}");
    }

    internal static int Route(StructuredPlan plan, int source, int destination)
    {
        Span<ulong> neighbours = stackalloc ulong[64];
        ulong target = plan.PositionAt(destination);
        int at = source;
        int hops = 0;
        while (at != destination)
        {
            ReadOnlySpan<int> links = plan.NeighboursOf(at);
            for (int i = 0; i < links.Length; i++)
            {
                neighbours[i] = plan.PositionAt(links[i]);
            }

            int next = GreedyRingRouter.NextHop(plan.PositionAt(at), target, neighbours[..links.Length]);
            if (next < 0 || ++hops > GreedyRingRouter.MaxHops)
            {
                return -1;
            }

            at = links[next];
        }

        return hops;
    }

    [Fact]
    public void Each_hop_is_strictly_closer_so_a_route_cannot_loop()
    {
        ulong[] neighbours = [100, 200, 900];
        // From 0 to 250: 200 is closest (50 away), 900 is farther than... every pick must beat this node's distance.
        Assert.Equal(1, GreedyRingRouter.NextHop(0, 250, neighbours));
        // The destination itself is a neighbour: it wins (distance 0).
        Assert.Equal(2, GreedyRingRouter.NextHop(0, 900, neighbours));
        // Counter-clockwise is fine too: from 0 to 2^64-50, the neighbour at 900 is farther than this node.
        Assert.Equal(-1, GreedyRingRouter.NextHop(0, ulong.MaxValue - 49, neighbours));
        // Nobody closer than this node: no next hop (the caller answers unreachable).
        Assert.Equal(-1, GreedyRingRouter.NextHop(150, 150, neighbours));
        Assert.Equal(-1, GreedyRingRouter.NextHop(0, 40, neighbours));
    }

    [Fact]
    public void Choosing_a_next_hop_allocates_nothing()
    {
        StructuredPlan plan = StructuredPlan.Build(StructuredPlanTests.Members(1000, 5), 2);
        Route(plan, 0, 500); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Route(plan, i, (i * 7) % 1000);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
