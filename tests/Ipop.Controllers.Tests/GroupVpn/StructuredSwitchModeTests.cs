using Ipop.Controllers.Tests.Fakes;
using Ipop.Tincan;

namespace Ipop.Controllers.Tests.GroupVpn;

/// <summary>
/// A structured group in switch mode: members' announced MACs are routed by ring position, as their addresses are, so a
/// frame from any member reaches any other hop by hop without depending on what floods taught (docs/routing.md, "TAP
/// mode"). In-memory signaling and simulated links; the simulated links carry no frames, so nothing is learned here and
/// every route comes from the controllers.
/// </summary>
public sealed class StructuredSwitchModeTests
{
    private static void StructuredTap(GroupVpnOptions o)
    {
        o.Topology = "structured";
        o.Mode = "tap";
    }

    private static byte[] Frame(GroupCluster.Member to, GroupCluster.Member from, GroupCluster cluster)
    {
        byte[] frame = new byte[60];
        GroupCluster.MacOf(cluster.Members.IndexOf(to)).GetAddressBytes().CopyTo(frame, 0);
        GroupCluster.MacOf(cluster.Members.IndexOf(from)).GetAddressBytes().CopyTo(frame, 6);
        frame[12] = 0x08;
        return frame;
    }

    /// <summary>Follows the switches from <paramref name="from"/> to <paramref name="to"/>'s MAC: the hops, or where it stopped.</summary>
    private static (int Hops, string? Stuck) Walk(GroupCluster cluster, GroupCluster.Member from, GroupCluster.Member to)
    {
        GroupCluster.Member at = from;
        for (int hops = 0; hops <= Ipop.Controllers.GroupVpn.Topology.GreedyRingRouter.MaxHops; hops++)
        {
            if (at == to)
            {
                return (hops, null);
            }

            // Each switch sees the frame as from its own interface (its own MAC as the source, which it never learns).
            RouteDecision decision = ((LearningSwitch)at.Tincan.Router!).RouteOutbound(Frame(to, at, cluster));
            if (decision.Link is not { } link)
            {
                return (hops, $"{at.Id.Value} has no route to {to.Id.Value}'s MAC ({decision.Action})");
            }

            if (link.Status.State != LinkState.Connected)
            {
                return (hops, $"{at.Id.Value} sends {to.Id.Value}'s MAC to {link.Peer.Value}, whose link is {link.Status.State}");
            }

            at = cluster.Members.Single(m => m.Id == link.Peer);
        }

        return (-1, $"a loop from {from.Id.Value} to {to.Id.Value}");
    }

    private static List<string> StuckPairs(GroupCluster cluster) =>
        [.. from a in cluster.Members.Where(m => m.InGroup)
            from b in cluster.Members.Where(m => m.InGroup && m != a)
            let walk = Walk(cluster, a, b)
            where walk.Stuck is not null
            select walk.Stuck];

    [Fact]
    public async Task Every_member_reaches_every_others_mac_through_member_routes_also_after_joins_and_leaves()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(20, seed: 3, configure: StructuredTap);
        for (int i = 0; i < 20; i++)
        {
            await cluster.StepAsync(chaos: false);
        }

        List<string> stuck = StuckPairs(cluster);
        Assert.True(stuck.Count == 0, string.Join('\n', stuck.Take(10)) + "\n" + cluster.Describe());

        // Members leave and come back: their routes go and come with them, and no route points at a link that went.
        var random = new Random(3);
        for (int change = 0; change < 6; change++)
        {
            GroupCluster.Member m = cluster.Members[random.Next(cluster.Members.Count)];
            await (m.InGroup ? m.LeaveAsync() : m.RejoinAsync());
            for (int i = 0; i < 15; i++)
            {
                await cluster.StepAsync(chaos: false);
            }

            stuck = StuckPairs(cluster);
            Assert.True(stuck.Count == 0, $"after change {change}:\n" + string.Join('\n', stuck.Take(10)) + "\n" + cluster.Describe());
        }

        Assert.All(cluster.Members, m => Assert.Empty(m.Errors));
    }
}
