using Ipop.Controllers.Tests.Fakes;
using Ipop.Lab.Frames;
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

    private static List<string> StuckPairs(GroupCluster cluster, GroupCluster.Member? except = null) =>
        [.. from a in cluster.Members.Where(m => m.InGroup)
            from b in cluster.Members.Where(m => m.InGroup && m != a && m != except)
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

    [Fact]
    public async Task Frames_through_other_members_earn_a_direct_link_that_is_released_when_idle()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(20, seed: 9, configure: o =>
        {
            StructuredTap(o);
            o.OnDemandPacketsPerSecond = 20;
            o.OnDemandIdleSeconds = 10;
        });
        await StepsAsync(cluster, 15);
        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member far = cluster.Members.First(m => m != a && !cluster.Links.Linked(a.Id, m.Id));
        var sw = (LearningSwitch)a.Tincan.Router!;
        for (int second = 0; second < 8 && !cluster.Links.Linked(a.Id, far.Id); second++)
        {
            for (int i = 0; i < 30; i++)
            {
                Assert.Equal(RouteAction.Unicast, sw.RouteOutbound(Frame(far, a, cluster)).Action);
            }

            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Links.Linked(a.Id, far.Id), "no on-demand link after 8 s of 30 frames/s\n" + cluster.Describe());
        Assert.Contains(a.Log.Lines, l => l.Message.Contains($"on-demand link to {far.Id.Value}", StringComparison.Ordinal));
        await StepsAsync(cluster, 1);
        Assert.Same(a.Tincan.Links.Single(l => l.Peer == far.Id), sw.RouteOutbound(Frame(far, a, cluster)).Link);

        await StepsAsync(cluster, 20); // silent for twice the idle time
        Assert.False(cluster.Links.Linked(a.Id, far.Id), "the idle on-demand link was kept\n" + cluster.Describe());
        Assert.Contains(a.Log.Lines, l => l.Message.Contains($"on-demand link to {far.Id.Value} released", StringComparison.Ordinal));
        Assert.Null(Walk(cluster, a, far).Stuck); // reached through others again
    }

    [Fact]
    public async Task A_member_announcing_another_members_mac_gets_no_route_for_it_and_is_logged()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(18, seed: 4, configure: StructuredTap);
        await StepsAsync(cluster, 10);
        GroupCluster.Member victim = cluster.Members[1];
        GroupCluster.Member liar = cluster.Members[2];
        string stolen = string.Join(':', GroupCluster.MacOf(1).GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
        await liar.Node.SetAnnouncementAsync($"a={liar.Controller.Addresses[0].Address} m={stolen}", CancellationToken.None);
        await StepsAsync(cluster, 3);

        // Every member still reaches the victim's MAC (the liar's own MAC, which it stopped announcing, is left out).
        List<string> stuck = StuckPairs(cluster, except: liar);
        Assert.True(stuck.Count == 0, string.Join('\n', stuck.Take(10)));
        GroupCluster.Member observer = cluster.Members.First(m => m != victim && m != liar && !cluster.Links.Linked(m.Id, victim.Id) && !cluster.Links.Linked(m.Id, liar.Id));
        Assert.Contains(observer.Log.Lines, l => l.Message.Contains($"refused {liar.Id.Value}'s MAC", StringComparison.Ordinal) && l.Message.Contains($"{victim.Id.Value} announced it first", StringComparison.Ordinal));

        // Once the victim leaves, the MAC is the liar's: members that announce the same MAC are one station to a switch.
        await victim.LeaveAsync();
        await StepsAsync(cluster, 5);
        RouteDecision toMac = ((LearningSwitch)observer.Tincan.Router!).RouteOutbound(Frame(victim, observer, cluster));
        Assert.Equal(RouteAction.Unicast, toMac.Action);
    }

    /// <summary>The ARP request <paramref name="from"/>'s kernel sends for <paramref name="to"/>'s address.</summary>
    private static byte[] ArpRequest(GroupCluster cluster, GroupCluster.Member from, GroupCluster.Member to) =>
        ArpFrame.Request(GroupCluster.MacOf(cluster.Members.IndexOf(from)).GetAddressBytes(), from.Controller.Addresses[0].Address, to.Controller.Addresses[0].Address);

    [Fact]
    public async Task Every_member_answers_arp_for_every_other_members_address_itself_until_that_member_leaves()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(20, seed: 5, configure: StructuredTap);
        await StepsAsync(cluster, 20);

        var wrong = new List<string>();
        foreach (GroupCluster.Member a in cluster.Members)
        {
            foreach (GroupCluster.Member b in cluster.Members.Where(m => m != a))
            {
                byte[] frame = ArpRequest(cluster, a, b);
                SwitchRoute route = ((LearningSwitch)a.Tincan.Router!).RouteFrame(frame, out _, answerArp: true);
                if (route != SwitchRoute.AnswerLocally || !frame.AsSpan(22, 6).SequenceEqual(GroupCluster.MacOf(cluster.Members.IndexOf(b)).GetAddressBytes()))
                {
                    wrong.Add($"{a.Id.Value} for {b.Id.Value}: {route}");
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join('\n', wrong.Take(10)));

        GroupCluster.Member gone = cluster.Members[7];
        await gone.LeaveAsync();
        await StepsAsync(cluster, 3);
        GroupCluster.Member asker = cluster.Members[0];
        Assert.Equal(SwitchRoute.Flood, ((LearningSwitch)asker.Tincan.Router!).RouteFrame(ArpRequest(cluster, asker, gone), out _, answerArp: true));
    }

    private static async Task StepsAsync(GroupCluster cluster, int seconds)
    {
        for (int i = 0; i < seconds; i++)
        {
            await cluster.StepAsync(chaos: false);
        }
    }
}
