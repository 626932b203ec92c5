namespace Ipop.Controllers.GroupVpn.Topology;

/// <summary>
/// The links of a structured overlay for one member list: every member's k ring successors and k predecessors, plus
/// long-distance links drawn from Symphony's harmonic distribution (Manku, Bawa, Raghavan, "Symphony", USITS 2003).
/// Pure and deterministic: every member that sees the same member list computes the same plan, so both ends of a
/// link agree that it should exist (the negotiator's offerer is fixed by key order, so a link wanted by only one end
/// could only ever be started by half of the pairs).
/// </summary>
/// <remarks>
/// <para>
/// Long links: each member draws ⌈L/2⌉ ring points (L = ⌈log2 N⌉) at clockwise distances x·2^64 with
/// x = M^(u−1), u uniform in [0, 1) from a generator seeded by its own position and M = 2^L (N rounded up to a power
/// of two), and links to the member closest to each point. Seeding by position keeps a member's draws fixed while
/// others come and go, and rounding N keeps the points still until the group doubles (with N itself, a long link
/// half-way round moves by half a member's arc per join, and one join moved a quarter of all links); so one join
/// changes few links: the newcomer's, the ring links it splits, and the long links whose points it now sits closest
/// to. When N crosses a power of two, L grows by one and every long link is drawn again. Links are two-way, so a member also carries the long
/// links others drew towards it; it accepts at most ⌊L/2⌋ of those (the requests whose points fell closest to it).
/// Hence a member has at most 2k + L structured links whatever N is (Symphony caps incoming links the same way).
/// </para>
/// <para>
/// Building costs O(N·L·log N) time and O(N·(2k + L)) memory, once per membership change; queries allocate nothing.
/// </para>
/// </remarks>
internal sealed class StructuredPlan
{
    private readonly ulong[] _positions;
    private readonly int[] _offsets;
    private readonly int[] _neighbours;

    private StructuredPlan(ulong[] positions, int[] offsets, int[] neighbours, int ringNeighbours, int longLinks)
    {
        _positions = positions;
        _offsets = offsets;
        _neighbours = neighbours;
        RingNeighbours = ringNeighbours;
        LongLinks = longLinks;
    }

    /// <summary>The number of members (distinct positions).</summary>
    public int Count => _positions.Length;

    /// <summary>k: ring successors (and predecessors) of each member.</summary>
    public int RingNeighbours { get; }

    /// <summary>L = ⌈log2 N⌉: the long-distance links a member may carry, drawn by it and towards it together.</summary>
    public int LongLinks { get; }

    /// <summary>The positions of the members, ascending (the ring order).</summary>
    public ReadOnlySpan<ulong> Positions => _positions;

    /// <summary>The most links any member of a group of <paramref name="members"/> has: 2k + ⌈log2 N⌉ (fewer when N is small).</summary>
    public static int MaxLinks(int members, int ringNeighbours) =>
        members <= 1 ? 0 : Math.Min(members - 1, (2 * ringNeighbours) + CeilLog2(members));

    /// <summary>The position of the member at ring index <paramref name="index"/>.</summary>
    public ulong PositionAt(int index) => _positions[index];

    /// <summary>The ring index of the member at <paramref name="position"/>, or -1 if it is not a member.</summary>
    public int IndexOf(ulong position)
    {
        int i = Array.BinarySearch(_positions, position);
        return i >= 0 ? i : -1;
    }

    /// <summary>The ring indices of the members that <paramref name="index"/> links to, ascending.</summary>
    public ReadOnlySpan<int> NeighboursOf(int index) => _neighbours.AsSpan(_offsets[index], _offsets[index + 1] - _offsets[index]);

    /// <summary>Whether the plan has a link between the members at <paramref name="a"/> and <paramref name="b"/>.</summary>
    public bool Links(int a, int b) => a != b && NeighboursOf(a).BinarySearch(b) >= 0;

    /// <summary>Plans the overlay of the members at <paramref name="positions"/> (any order; duplicates count once).</summary>
    /// <param name="positions">The members' <see cref="RingPosition"/>s, this node's among them.</param>
    /// <param name="ringNeighbours">k, at least 1.</param>
    public static StructuredPlan Build(ReadOnlySpan<ulong> positions, int ringNeighbours)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ringNeighbours, 1);
        ulong[] ring = SortedDistinct(positions);
        int n = ring.Length;
        int longLinks = n <= 1 ? 0 : CeilLog2(n);
        var edges = new List<(int A, int B)>(n * (ringNeighbours + longLinks));
        AddRingEdges(n, ringNeighbours, edges);
        if (n > (2 * ringNeighbours) + 1)
        {
            AddLongEdges(ring, ringNeighbours, longLinks, edges);
        }

        (int[] offsets, int[] neighbours) = ToAdjacency(n, edges);
        return new StructuredPlan(ring, offsets, neighbours, ringNeighbours, longLinks);
    }

    internal static int CeilLog2(int n) => n <= 1 ? 0 : 32 - int.LeadingZeroCount(n - 1);

    private static ulong[] SortedDistinct(ReadOnlySpan<ulong> positions)
    {
        ulong[] sorted = positions.ToArray();
        Array.Sort(sorted);
        int count = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            // Two ids with the same 64-bit position (odds about N²/2^65) share a place: the ring keeps one.
            if (count == 0 || sorted[count - 1] != sorted[i])
            {
                sorted[count++] = sorted[i];
            }
        }

        return count == sorted.Length ? sorted : sorted[..count];
    }

    private static void AddRingEdges(int n, int k, List<(int A, int B)> edges)
    {
        if (n - 1 <= 2 * k)
        {
            // Small group: the ring neighbourhood is everyone.
            for (int a = 0; a < n; a++)
            {
                for (int b = a + 1; b < n; b++)
                {
                    edges.Add((a, b));
                }
            }

            return;
        }

        for (int a = 0; a < n; a++)
        {
            for (int s = 1; s <= k; s++)
            {
                edges.Add((a, (a + s) % n));
            }
        }
    }

    private static void AddLongEdges(ulong[] ring, int k, int longLinks, List<(int A, int B)> edges)
    {
        int n = ring.Length;
        int draws = (longLinks + 1) / 2;
        int inCap = longLinks - draws;
        double lnM = longLinks * Math.Log(2); // the draws use M = 2^L, see the remarks
        // One 128-bit key per request: target, then how far its point fell from the target, then the requester. Keys
        // are unique, so the order (and the plan) does not depend on the sort algorithm of the runtime.
        var requests = new UInt128[n * draws];
        int count = 0;
        Span<int> chosen = stackalloc int[draws];
        for (int from = 0; from < n; from++)
        {
            var random = new SplitMix64(ring[from]);
            int made = 0;
            for (int d = 0; d < draws; d++)
            {
                // Math.Exp may differ in the last bit between platforms: that moves a point by about 2^-52 of its distance,
                // which changes the chosen member only for a point that close to the midpoint between two members.
                double x = Math.Exp(lnM * (random.NextDouble() - 1));
                ulong point = unchecked(ring[from] + (ulong)(x * 18446744073709551616.0));
                int to = Closest(ring, point);
                if (IsRingNeighbour(from, to, n, k) || chosen[..made].Contains(to))
                {
                    continue; // already linked: the draw is spent, not repeated, so later draws stay where they were
                }

                chosen[made++] = to;
                ulong miss = RingPosition.Distance(point, ring[to]);
                requests[count++] = new UInt128(((ulong)(uint)to << 32) | (miss >> 32), (miss << 32) | (uint)from);
            }
        }

        Array.Sort(requests, 0, count);
        int current = -1;
        int accepted = 0;
        foreach (UInt128 request in requests.AsSpan(0, count))
        {
            int to = (int)(uint)(request >> 96);
            int from = (int)(uint)request;
            accepted = to == current ? accepted + 1 : 1;
            current = to;
            if (accepted <= inCap)
            {
                edges.Add((from, to));
            }
        }
    }

    private static bool IsRingNeighbour(int a, int b, int n, int k)
    {
        int forward = ((b - a) % n + n) % n;
        return forward == 0 || forward <= k || n - forward <= k;
    }

    private static int Closest(ulong[] ring, ulong point)
    {
        int i = Array.BinarySearch(ring, point);
        if (i >= 0)
        {
            return i;
        }

        int after = ~i % ring.Length;
        int before = (~i - 1 + ring.Length) % ring.Length;
        return RingPosition.Distance(ring[before], point) <= RingPosition.Distance(ring[after], point) ? before : after;
    }

    private static (int[] Offsets, int[] Neighbours) ToAdjacency(int n, List<(int A, int B)> edges)
    {
        int[] degree = new int[n + 1];
        foreach ((int a, int b) in edges)
        {
            degree[a]++;
            degree[b]++;
        }

        int[] start = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            start[i + 1] = start[i] + degree[i];
        }

        int[] all = new int[start[n]];
        int[] fill = start[..n];
        foreach ((int a, int b) in edges)
        {
            all[fill[a]++] = b;
            all[fill[b]++] = a;
        }

        // Sort each member's list and drop duplicates (a long link that both ends drew): compact in place.
        int[] offsets = new int[n + 1];
        int write = 0;
        for (int i = 0; i < n; i++)
        {
            Span<int> list = all.AsSpan(start[i], start[i + 1] - start[i]);
            list.Sort();
            offsets[i] = write;
            for (int j = 0; j < list.Length; j++)
            {
                if (j == 0 || list[j] != list[j - 1])
                {
                    all[write++] = list[j];
                }
            }
        }

        offsets[n] = write;
        return (offsets, write == all.Length ? all : all[..write]);
    }
}
