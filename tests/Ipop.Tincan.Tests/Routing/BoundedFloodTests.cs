using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>EdgeVPN's bounded flood, without sockets: every member of a ring overlay receives a flood exactly once.</summary>
public sealed class BoundedFloodTests
{
    [Fact]
    public void The_originator_gives_each_link_the_range_up_to_the_next_and_the_last_one_the_range_back_to_itself()
    {
        // Positions are given unsorted and wrap around the top of the ring: 0xF0... is the closest clockwise from 0xE0...
        ulong self = 0xE000_0000_0000_0000;
        ulong[] positions = [0x1000_0000_0000_0000, 0xF000_0000_0000_0000, 0xD000_0000_0000_0000, 0x8000_0000_0000_0000];
        int[] targets = new int[4];
        ulong[] bounds = new ulong[4];

        int count = BoundedFlood.Split(self, 0, originate: true, positions, targets, bounds);

        Assert.Equal(4, count);
        Assert.Equal([1, 0, 3, 2], targets);
        Assert.Equal([positions[0], positions[3], positions[2], self], bounds);
    }

    [Fact]
    public void A_receiver_sends_on_only_inside_its_range_and_the_last_copy_keeps_the_bound()
    {
        ulong self = 100;
        ulong[] positions = [50, 150, 300, 250, 400, 100];
        int[] targets = new int[6];
        ulong[] bounds = new ulong[6];

        // Range (100, 300): 150 and 250 are inside; 300 is the bound itself, 50 and 400 outside, 100 is this member.
        int count = BoundedFlood.Split(self, 300, originate: false, positions, targets, bounds);

        Assert.Equal(2, count);
        Assert.Equal([1, 3], targets.AsSpan(0, 2).ToArray());
        Assert.Equal([250UL, 300UL], bounds.AsSpan(0, 2).ToArray());
    }

    [Fact]
    public void A_bound_equal_to_the_receivers_own_position_covers_nothing_not_the_whole_ring()
    {
        // A member that announces another's position makes a copy carry the receiver's own position as its bound.
        int count = BoundedFlood.Split(100, 100, originate: false, [50UL, 150UL, 300UL], new int[3], new ulong[3]);
        Assert.Equal(0, count);
    }

    [Fact]
    public void Splitting_allocates_nothing()
    {
        ulong[] positions = [5, 3, 9, 1, 7, 2, 8];
        int[] targets = new int[positions.Length];
        ulong[] bounds = new ulong[positions.Length];
        BoundedFlood.Split(4, 0, originate: true, positions, targets, bounds);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            BoundedFlood.Split(4, 0, originate: true, positions, targets, bounds);
            BoundedFlood.Split(4, 2, originate: false, positions, targets, bounds);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 2)]
    [InlineData(2, 0)]
    [InlineData(2, 3)]
    public void Every_member_of_a_ring_receives_a_flood_from_every_originator_exactly_once(int k, int randomLongLinks)
    {
        for (int n = 2; n <= 64; n++)
        {
            Ring ring = Ring.Build(n, k, randomLongLinks, symphony: false, seed: n * 31 + k);
            for (int origin = 0; origin < n; origin++)
            {
                (int[] received, int depth) = ring.Flood(origin);
                for (int m = 0; m < n; m++)
                {
                    Assert.True(received[m] == (m == origin ? 0 : 1), $"n={n} k={k} long={randomLongLinks}: member {m} received {received[m]} copies of {origin}'s flood");
                }

                // A copy only ever moves clockwise inside a shrinking range: at most one hop per member, and with k
                // successors a copy advances at least k members per hop.
                Assert.InRange(depth, n == 1 ? 0 : 1, Math.Max(1, (n + k - 1) / k));
            }
        }
    }

    [Fact]
    public void With_symphony_long_links_a_flood_over_a_thousand_members_stays_well_inside_the_hop_limit()
    {
        const int n = 1000;
        Ring ring = Ring.Build(n, 2, (int)Math.Ceiling(Math.Log2(n)), symphony: true, seed: 16);
        int deepest = 0;
        for (int origin = 0; origin < n; origin += 7)
        {
            (int[] received, int depth) = ring.Flood(origin);
            Assert.Equal(n - 1, received.Count(r => r == 1));
            Assert.Equal(0, received[origin]);
            deepest = Math.Max(deepest, depth);
        }

        // Symphony links make the depth grow like log2 N (about 14 here), far from the 32 hops a frame may take.
        Assert.InRange(deepest, 1, ForwardedFrameHeader.HopLimit / 2);
    }

    /// <summary>A simulated overlay: members sorted by ring position, each with the set of members it links to.</summary>
    private sealed class Ring
    {
        private readonly ulong[] _positions;
        private readonly HashSet<int>[] _links;

        private Ring(ulong[] positions, HashSet<int>[] links)
        {
            _positions = positions;
            _links = links;
        }

        /// <summary>k successors (and so predecessors: links are both ways) plus long links, random or Symphony's harmonic ones.</summary>
        public static Ring Build(int n, int k, int longLinks, bool symphony, int seed)
        {
            var random = new Random(seed);
            ulong[] positions = new ulong[n];
            for (int i = 0; i < n; i++)
            {
                positions[i] = (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);
            }

            Array.Sort(positions);
            var links = new HashSet<int>[n];
            for (int i = 0; i < n; i++)
            {
                links[i] = [];
            }

            void Link(int a, int b)
            {
                if (a != b)
                {
                    links[a].Add(b);
                    links[b].Add(a);
                }
            }

            for (int i = 0; i < n; i++)
            {
                for (int j = 1; j <= k; j++)
                {
                    Link(i, (i + j) % n);
                }

                for (int l = 0; l < longLinks; l++)
                {
                    if (!symphony)
                    {
                        Link(i, random.Next(n));
                        continue;
                    }

                    // Symphony: a distance drawn from the harmonic distribution, linked to the member that follows it.
                    double fraction = Math.Exp(Math.Log(n) * (random.NextDouble() - 1.0));
                    ulong target = unchecked(positions[i] + (ulong)(fraction * ulong.MaxValue));
                    int at = Array.BinarySearch(positions, target);
                    Link(i, (at >= 0 ? at : ~at) % n);
                }
            }

            return new Ring(positions, links);
        }

        /// <summary>Runs a flood from <paramref name="origin"/> with the data plane's split; copies received per member, and the deepest hop.</summary>
        public (int[] Received, int Depth) Flood(int origin)
        {
            int[] received = new int[_positions.Length];
            int depth = 0;
            var pending = new Queue<(int Member, ulong Bound, int Hops)>();
            Send(origin, _positions[origin], originate: true, 0);
            while (pending.TryDequeue(out (int Member, ulong Bound, int Hops) copy))
            {
                received[copy.Member]++;
                depth = Math.Max(depth, copy.Hops);
                Send(copy.Member, copy.Bound, originate: false, copy.Hops);
            }

            return (received, depth);

            void Send(int member, ulong bound, bool originate, int hops)
            {
                int[] neighbours = [.. _links[member]];
                ulong[] positions = [.. neighbours.Select(m => _positions[m])];
                int[] targets = new int[positions.Length];
                ulong[] bounds = new ulong[positions.Length];
                int count = BoundedFlood.Split(_positions[member], bound, originate, positions, targets, bounds);
                for (int j = 0; j < count; j++)
                {
                    pending.Enqueue((neighbours[targets[j]], bounds[j], hops + 1));
                }
            }
        }
    }
}
