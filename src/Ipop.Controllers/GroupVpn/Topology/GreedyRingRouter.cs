namespace Ipop.Controllers.GroupVpn.Topology;

/// <summary>
/// Greedy ring routing (Symphony, Chord): a packet for a member without a direct link goes to the linked neighbour
/// closest on the ring to the destination, and only if that neighbour is strictly closer than this node. The
/// distance to the destination therefore shrinks at every hop, so a route can never loop; the ring neighbours
/// guarantee that some neighbour is closer whenever the destination is a member. Links are used in both directions
/// of the ring (Symphony section 3), which roughly halves the path compared with clockwise-only routing, since the
/// long links other members drew towards this node point backwards.
/// </summary>
internal static class GreedyRingRouter
{
    /// <summary>
    /// The hop limit of a forwarded packet. Greedy routing over a Symphony ring takes O(log² N / links) hops: about
    /// 6 on average (18 at worst) for 1,000 members and 8 for 5,000 (see docs/scale.md), so 32 leaves room for a ring
    /// still repairing itself and still stops a packet that a faulty member keeps bouncing.
    /// </summary>
    public const int MaxHops = 32;

    /// <summary>
    /// Which neighbour a packet for <paramref name="destination"/> goes to next.
    /// </summary>
    /// <param name="self">This node's ring position.</param>
    /// <param name="destination">The destination's ring position.</param>
    /// <param name="neighbours">The ring positions of the neighbours whose links are up now.</param>
    /// <returns>The index in <paramref name="neighbours"/> of the next hop, or -1 when no neighbour is closer than
    /// this node (the destination is this node, or the ring around it is broken).</returns>
    public static int NextHop(ulong self, ulong destination, ReadOnlySpan<ulong> neighbours)
    {
        ulong best = RingPosition.Distance(self, destination);
        int hop = -1;
        for (int i = 0; i < neighbours.Length; i++)
        {
            ulong d = RingPosition.Distance(neighbours[i], destination);
            if (d < best)
            {
                best = d;
                hop = i;
            }
        }

        return hop;
    }
}
