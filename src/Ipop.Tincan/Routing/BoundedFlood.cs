namespace Ipop.Tincan;

/// <summary>
/// EdgeVPN's BoundedFlood on the 2^64 ring of a structured overlay: which links a broadcast goes out on, and the end of
/// the ring range each copy still covers. Pure: positions in, targets and bounds out, no allocation.
/// </summary>
/// <remarks>
/// <para>
/// Distances are clockwise, <c>d(a, b) = b - a</c> modulo 2^64. The originator sorts its links by distance and gives link
/// i the range up to link i+1's position (the last one: up to itself). A member that receives a copy with bound B sends
/// it on only to its links strictly inside <c>(self, B)</c>, splitting that range the same way, the last one getting B.
/// </para>
/// <para>
/// The ranges handed out by one member are disjoint and lie inside its own, so no member is reached twice, and a member
/// in a range is reached as long as every member links to its ring successor: the holder of the range containing it
/// either links to it or to a member between them, which holds a smaller range containing it. No duplicate-suppression
/// table is needed. Two links with the same position (a member announcing a position it does not own) cost at most an
/// empty range: a bound equal to the receiver's own position covers nothing, never the whole ring.
/// </para>
/// </remarks>
internal static class BoundedFlood
{
    /// <summary>Clockwise distance from <paramref name="from"/> to <paramref name="to"/> on the ring.</summary>
    public static ulong Distance(ulong from, ulong to) => unchecked(to - from);

    /// <summary>
    /// The copies a member at <paramref name="self"/> sends: <paramref name="targets"/> gets indexes into
    /// <paramref name="positions"/> (its links' ring positions) in clockwise order, <paramref name="bounds"/> the bound
    /// each copy carries.
    /// </summary>
    /// <param name="self">This member's ring position.</param>
    /// <param name="bound">The bound of the copy that arrived; ignored when <paramref name="originate"/>.</param>
    /// <param name="originate">This member sends the frame into the overlay: its range is the whole ring but itself.</param>
    /// <param name="positions">The ring positions of the links a copy may go out on.</param>
    /// <param name="targets">At least as long as <paramref name="positions"/>.</param>
    /// <param name="bounds">At least as long as <paramref name="positions"/>.</param>
    /// <returns>How many copies to send (the first entries of <paramref name="targets"/> and <paramref name="bounds"/>).</returns>
    public static int Split(ulong self, ulong bound, bool originate, ReadOnlySpan<ulong> positions, Span<int> targets, Span<ulong> bounds)
    {
        if (targets.Length < positions.Length || bounds.Length < positions.Length)
        {
            throw new ArgumentException("The targets and bounds must have room for every position.", nameof(targets));
        }

        ulong end = originate ? self : bound;
        ulong limit = Distance(self, end);
        int count = 0;
        for (int i = 0; i < positions.Length; i++)
        {
            ulong distance = Distance(self, positions[i]);
            if (distance == 0 || (!originate && distance >= limit))
            {
                continue;
            }

            // Insertion sort: a member has a few dozen links at most, and this keeps the split allocation-free.
            int at = count++;
            while (at > 0 && Distance(self, positions[targets[at - 1]]) > distance)
            {
                targets[at] = targets[at - 1];
                at--;
            }

            targets[at] = i;
        }

        for (int j = 0; j < count; j++)
        {
            bounds[j] = j + 1 < count ? positions[targets[j + 1]] : end;
        }

        return count;
    }
}
