using Ipop.Controllers.GroupVpn.Topology;

namespace Ipop.Simulator;

/// <summary>
/// Plans shared by the real controllers of one simulation (<c>GroupVpnController.PlanBuilder</c>): every member that
/// sees the same member list computes the same <see cref="StructuredPlan"/> (it is deterministic), so the simulator
/// builds it once per list instead of once per member. A list is recognised by an order-independent fingerprint and
/// then checked member by member, so a plan is only ever reused for exactly its own list.
/// </summary>
internal sealed class SharedPlans
{
    // A churning group has a few distinct lists alive at once (members whose view lags by an event); more means a
    // member list nobody else shares, which is built and not kept for long.
    private const int Kept = 16;
    private readonly Dictionary<(int Count, int K, ulong Sum, ulong Xor), StructuredPlan> _plans = [];

    /// <summary>Plans built and plans reused, for the report.</summary>
    public long Built { get; private set; }

    /// <summary>Plans reused.</summary>
    public long Reused { get; private set; }

    /// <summary>The plan of <paramref name="positions"/> (any order) with <paramref name="ringNeighbours"/>.</summary>
    public StructuredPlan Get(ulong[] positions, int ringNeighbours)
    {
        ulong sum = 0;
        ulong xor = 0;
        foreach (ulong p in positions)
        {
            ulong mixed = Mix(p);
            sum = unchecked(sum + mixed);
            xor ^= mixed;
        }

        var key = (positions.Length, ringNeighbours, sum, xor);
        if (_plans.TryGetValue(key, out StructuredPlan? plan) && Same(plan, positions))
        {
            Reused++;
            return plan;
        }

        plan = StructuredPlan.Build(positions, ringNeighbours);
        Built++;
        if (_plans.Count >= Kept)
        {
            _plans.Clear();
        }

        _plans[key] = plan;
        return plan;
    }

    private static bool Same(StructuredPlan plan, ulong[] positions)
    {
        if (plan.Count != positions.Length)
        {
            return false; // (a list with two equal positions is never reused: the plan keeps one of them)
        }

        foreach (ulong p in positions)
        {
            if (plan.IndexOf(p) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static ulong Mix(ulong x)
    {
        // SplitMix64's finaliser: sums of mixed values tell lists apart where sums of raw positions might not.
        x = unchecked((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9UL);
        x = unchecked((x ^ (x >> 27)) * 0x94d049bb133111ebUL);
        return x ^ (x >> 31);
    }
}
