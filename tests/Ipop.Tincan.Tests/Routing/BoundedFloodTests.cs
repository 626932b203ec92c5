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

    [Fact]
    public void A_backfill_range_is_split_on_both_sides_of_its_holder()
    {
        // Range (100, 500) held by 300 (its sender, 100, gave it the first copy clockwise): 150 and 250 are behind it,
        // 350 and 450 ahead; 100 (the sender) and 500 (the bound) are outside.
        ulong[] positions = [450, 100, 250, 500, 150, 350];
        int[] targets = new int[6];
        ulong[] bounds = new ulong[6];

        int count = BoundedFlood.Split(300, 100, 500, originate: false, positions, [], targets, bounds, out int backfill);

        Assert.Equal(4, count);
        Assert.Equal([4, 2, 5, 0], targets.AsSpan(0, 4).ToArray());
        // Behind: 150 up to 250, 250 up to the holder. Ahead: 350 (with backfill: from 300) up to 450, 450 up to the bound.
        Assert.Equal([250UL, 300UL, 450UL, 500UL], bounds.AsSpan(0, 4).ToArray());
        Assert.Equal(2, backfill);
    }

    [Fact]
    public void A_backfill_copy_from_an_originator_with_one_link_covers_the_whole_ring_but_the_originator()
    {
        // The originator 100 had one link (300): the copy's range runs from 100 round to 100.
        int count = BoundedFlood.Split(300, 100, 100, originate: false, [100UL, 50UL, 200UL, 400UL], [], new int[4], new ulong[4], out int backfill);
        Assert.Equal(3, count);
        Assert.Equal(1, backfill); // 200 is behind 300; 400, the first one ahead, covers back to 300
    }

    [Fact]
    public void A_holder_with_no_link_up_ahead_but_one_not_up_sends_a_repair_copy_past_its_range()
    {
        // Holder 100, range (100, 300): its link to 200 is not up. Links up: 50 (behind, outside), 300 (the bound), 400.
        ulong[] positions = [400, 300, 50];
        int[] targets = new int[3];
        ulong[] bounds = new ulong[3];

        int count = BoundedFlood.Split(100, 100, 300, originate: false, positions, [200UL], targets, bounds, out int backfill);

        // One copy, to 300 (the first link up at or past the end), for the holder's range, with backfill.
        Assert.Equal(1, count);
        Assert.Equal((1, 300UL, 0), (targets[0], bounds[0], backfill));
        Assert.False(BoundedFlood.Contains(100, 300, 300)); // so 300 does not deliver it, only splits it behind itself

        // 300 splits (100, 300) over its links behind it: 200 gets the range from itself up to the end.
        count = BoundedFlood.Split(300, 100, 300, originate: false, [200UL, 400UL], [], targets, bounds, out backfill);
        Assert.Equal((1, 0, 300UL, -1), (count, targets[0], bounds[0], backfill));

        // Without a link that is not up, an empty range costs nothing.
        Assert.Equal(0, BoundedFlood.Split(100, 100, 300, originate: false, positions, [], targets, bounds, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void With_two_successors_a_flood_gets_past_any_one_link_that_is_not_up(int randomLongLinks)
    {
        // A ring link still connecting (or waiting for a relay) left every member between its ends and the sender's next
        // connected link without the frame; backfill covers them from the other side.
        for (int n = 3; n <= 40; n++)
        {
            Ring ring = Ring.Build(n, 2, randomLongLinks, symphony: false, seed: n * 17);
            foreach ((int a, int b) in ring.Links.SelectMany((set, a) => set.Where(b => a < b).Select(b => (a, b))))
            {
                var down = new HashSet<(int, int)> { (a, b) };
                for (int origin = 0; origin < n; origin++)
                {
                    (int[] received, _) = ring.Flood(origin, down);
                    for (int m = 0; m < n; m++)
                    {
                        Assert.True(received[m] == (m == origin ? 0 : 1), $"n={n} long={randomLongLinks} link {a}-{b} down: member {m} received {received[m]} copies of {origin}'s flood");
                    }
                }
            }
        }
    }

    [Fact]
    public void With_some_ring_links_down_in_a_thousand_members_every_member_still_gets_at_most_one_copy()
    {
        const int n = 1000;
        Ring ring = Ring.Build(n, 2, (int)Math.Ceiling(Math.Log2(n)), symphony: true, seed: 99);
        var random = new Random(5);

        // 2 % of the successor links down at random (some adjacent, which backfill cannot always repair).
        var down = new HashSet<(int, int)>();
        for (int i = 0; i < n; i++)
        {
            if (random.Next(50) == 0)
            {
                int j = (i + 1 + random.Next(2)) % n;
                down.Add((Math.Min(i, j), Math.Max(i, j)));
            }
        }

        long missed = 0;
        for (int origin = 0; origin < n; origin += 10)
        {
            (int[] received, int depth) = ring.Flood(origin, down);
            Assert.All(received, r => Assert.InRange(r, 0, 1));
            Assert.InRange(depth, 1, ForwardedFrameHeader.HopLimit);
            missed += received.Count(r => r == 0) - 1;
        }

        // Without backfill, each link down cost the members between its ends on most floods.
        Assert.True(missed <= 100 * n / 1000, $"{missed} deliveries missed over 100 floods with {down.Count} links down");
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

        /// <summary>The links between members: a copy of the set for each member, to take links down in a test.</summary>
        public HashSet<int>[] Links => _links;

        /// <summary>
        /// Runs a flood from <paramref name="origin"/> with the data plane's split, over the links that are up (a link in
        /// <paramref name="down"/> is not, in either direction); copies received per member, and the deepest hop.
        /// </summary>
        public (int[] Received, int Depth) Flood(int origin, ISet<(int, int)>? down = null)
        {
            int[] received = new int[_positions.Length];
            int depth = 0;
            var pending = new Queue<(int Member, int From, ulong Bound, bool Backfill, int Hops)>();
            Send(origin, -1, _positions[origin], originate: true, backfill: false, 0);
            while (pending.TryDequeue(out (int Member, int From, ulong Bound, bool Backfill, int Hops) copy))
            {
                // A repair copy reaches a member outside its range: split, not delivered.
                if (!copy.Backfill || BoundedFlood.Contains(_positions[copy.From], copy.Bound, _positions[copy.Member]))
                {
                    received[copy.Member]++;
                }

                depth = Math.Max(depth, copy.Hops);
                Send(copy.Member, copy.From, copy.Bound, originate: false, copy.Backfill, copy.Hops);
            }

            return (received, depth);

            void Send(int member, int from, ulong bound, bool originate, bool backfill, int hops)
            {
                // As the data plane: the link a copy came on is no candidate, nor a link that is not up.
                bool Up(int m) => down?.Contains((Math.Min(m, member), Math.Max(m, member))) != true;
                int[] neighbours = [.. _links[member].Where(m => m != from && Up(m))];
                ulong[] positions = [.. neighbours.Select(m => _positions[m])];
                ulong[] blocked = [.. _links[member].Where(m => !Up(m)).Select(m => _positions[m])];
                int[] targets = new int[positions.Length];
                ulong[] bounds = new ulong[positions.Length];
                ulong start = backfill ? _positions[from] : _positions[member];
                int count = BoundedFlood.Split(_positions[member], start, bound, originate, positions, blocked, targets, bounds, out int backfillCopy);
                for (int j = 0; j < count; j++)
                {
                    pending.Enqueue((neighbours[targets[j]], member, bounds[j], j == backfillCopy, hops + 1));
                }
            }
        }
    }
}
