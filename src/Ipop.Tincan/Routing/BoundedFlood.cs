namespace Ipop.Tincan;

/// <summary>
/// EdgeVPN's BoundedFlood on the 2^64 ring of a structured overlay: which links a broadcast goes out on, and the ring
/// range each copy still covers. Pure: positions in, targets and bounds out, no allocation.
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
/// <para>
/// <b>Backfill.</b> A successor link that is not up (still connecting, or its peer's NAT needs a relay that is not there
/// yet) would leave a hole: the members between a sender and its first connected link in the range got nothing. So the
/// first copy that goes clockwise carries a range that starts at its <em>sender</em>, not at itself
/// (<c>(sender, B)</c>, the shim's backfill flag): its receiver also covers the members behind it, through its own links
/// to them (ring predecessors, which a successor has). It splits that part the same way, each such link getting the range
/// up to the next one, the last up to itself; those copies go clockwise from their receivers and carry no backfill. The
/// ranges stay disjoint, so exactly-once holds. A holder with no link up ahead of it in its range but one that is not up
/// (it knows a member is there) sends a <em>repair</em> copy with backfill to its first link up at or past the range's
/// end: that member lies outside the range, so it does not deliver the frame, and it splits the range over its links
/// behind it. Together the two get a flood past any single link that is not up (tested on every link of rings up to 40
/// members). With every successor link up the first link is the sender's successor, the backfill part is empty, no
/// repair is sent, and the flood is EdgeVPN's.
/// </para>
/// </remarks>
internal static class BoundedFlood
{
    /// <summary>Clockwise distance from <paramref name="from"/> to <paramref name="to"/> on the ring.</summary>
    public static ulong Distance(ulong from, ulong to) => unchecked(to - from);

    /// <summary>
    /// The copies a member at <paramref name="self"/> sends for a range that starts at itself: <paramref name="targets"/>
    /// gets indexes into <paramref name="positions"/> (its links' ring positions) in clockwise order,
    /// <paramref name="bounds"/> the bound each copy carries.
    /// </summary>
    /// <param name="self">This member's ring position.</param>
    /// <param name="bound">The bound of the copy that arrived; ignored when <paramref name="originate"/>.</param>
    /// <param name="originate">This member sends the frame into the overlay: its range is the whole ring but itself.</param>
    /// <param name="positions">The ring positions of the links a copy may go out on.</param>
    /// <param name="targets">At least as long as <paramref name="positions"/>.</param>
    /// <param name="bounds">At least as long as <paramref name="positions"/>.</param>
    /// <returns>How many copies to send (the first entries of <paramref name="targets"/> and <paramref name="bounds"/>).</returns>
    public static int Split(ulong self, ulong bound, bool originate, ReadOnlySpan<ulong> positions, Span<int> targets, Span<ulong> bounds) =>
        Split(self, self, bound, originate, positions, [], targets, bounds, out _);

    /// <summary>
    /// Whether a member at <paramref name="position"/> lies in the range <c>(start, end)</c>, which is the whole ring but
    /// <paramref name="start"/> when the two are equal (a backfill range from an originator with one link).
    /// </summary>
    public static bool Contains(ulong start, ulong end, ulong position)
    {
        ulong distance = Distance(start, position);
        return distance != 0 && (start == end || distance < Distance(start, end));
    }

    /// <summary>
    /// The copies a member at <paramref name="self"/> sends for the range <c>(start, bound)</c> it holds (see the
    /// remarks on backfill): <paramref name="targets"/> gets indexes into <paramref name="positions"/>, ordered from
    /// <paramref name="start"/>, <paramref name="bounds"/> the bound each copy carries, and
    /// <paramref name="backfill"/> the copy whose range starts at this member (-1 for none).
    /// </summary>
    /// <param name="self">This member's ring position.</param>
    /// <param name="start">Where the range starts: <paramref name="self"/>, or the sender's position for a backfill copy.</param>
    /// <param name="bound">The bound of the copy that arrived; ignored when <paramref name="originate"/>.</param>
    /// <param name="originate">This member sends the frame into the overlay: its range is the whole ring but itself.</param>
    /// <param name="positions">The ring positions of the links a copy may go out on (links that are up).</param>
    /// <param name="blocked">The ring positions of this member's links that are not up.</param>
    /// <param name="targets">At least as long as <paramref name="positions"/>.</param>
    /// <param name="bounds">At least as long as <paramref name="positions"/>.</param>
    /// <param name="backfill">The index into <paramref name="targets"/> of the copy that carries the backfill flag, or -1.</param>
    /// <returns>How many copies to send (the first entries of <paramref name="targets"/> and <paramref name="bounds"/>).</returns>
    public static int Split(ulong self, ulong start, ulong bound, bool originate, ReadOnlySpan<ulong> positions, ReadOnlySpan<ulong> blocked, Span<int> targets, Span<ulong> bounds, out int backfill)
    {
        if (targets.Length < positions.Length || bounds.Length < positions.Length)
        {
            throw new ArgumentException("The targets and bounds must have room for every position.", nameof(targets));
        }

        backfill = -1;
        if (originate)
        {
            start = self;
        }

        ulong end = originate ? self : bound;

        // The whole ring but its start: the originator's range, and a backfill copy from an originator with one link
        // (its range runs from the originator round to the originator). A range that starts at its holder and ends
        // there covers nothing (a position announced twice), never the whole ring.
        bool whole = originate || (start != self && start == end);
        ulong limit = Distance(start, end);
        ulong own = Distance(start, self);
        int count = 0;
        for (int i = 0; i < positions.Length; i++)
        {
            ulong distance = Distance(start, positions[i]);
            if (distance == 0 || distance == own || (!whole && distance >= limit))
            {
                continue;
            }

            // Insertion sort: a member has a few dozen links at most, and this keeps the split allocation-free.
            int at = count++;
            while (at > 0 && Distance(start, positions[targets[at - 1]]) > distance)
            {
                targets[at] = targets[at - 1];
                at--;
            }

            targets[at] = i;
        }

        // Links behind this member (only in a backfill range) come first: each covers up to the next, the last up to this
        // member (or up to the end, for a holder outside its range: a repair copy, below). Then the links ahead: each up
        // to the next, the last up to the end, the first one with backfill.
        bool inside = whole || own < limit;
        int behind = 0;
        while (behind < count && (!inside || Distance(start, positions[targets[behind]]) < own))
        {
            behind++;
        }

        for (int j = 0; j < count; j++)
        {
            bool lastOfItsSide = j + 1 == count || j + 1 == behind;
            bounds[j] = !lastOfItsSide ? positions[targets[j + 1]] : j < behind && inside ? self : end;
        }

        if (behind < count)
        {
            backfill = behind;
            return count;
        }

        // Nothing up ahead of this member in its range, but a link there that is not up: a member sits in the range that
        // only others can reach. The first link up at or past the end (likely that member's ring successor, which links
        // back to it) gets a repair copy: the range from here to the end, with backfill. It lies outside that range, so
        // it does not deliver the frame; it only splits the range over its links behind it.
        if (!inside || whole || !AnyInside(blocked, start, own, limit))
        {
            return count;
        }

        int repair = -1;
        for (int i = 0; i < positions.Length; i++)
        {
            ulong distance = Distance(start, positions[i]);
            if (distance != 0 && distance != own && distance >= limit && (repair < 0 || Distance(end, positions[i]) < Distance(end, positions[repair])))
            {
                repair = i;
            }
        }

        if (repair >= 0)
        {
            targets[count] = repair;
            bounds[count] = end;
            backfill = count++;
        }

        return count;
    }

    /// <summary>Whether one of <paramref name="positions"/> lies ahead of the holder (at <paramref name="own"/>) inside its range.</summary>
    private static bool AnyInside(ReadOnlySpan<ulong> positions, ulong start, ulong own, ulong limit)
    {
        foreach (ulong position in positions)
        {
            ulong distance = Distance(start, position);
            if (distance > own && distance < limit)
            {
                return true;
            }
        }

        return false;
    }
}
