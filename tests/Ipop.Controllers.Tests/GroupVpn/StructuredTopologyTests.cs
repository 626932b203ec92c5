using System.Net;
using Ipop.Controllers.GroupVpn.Topology;
using Ipop.Controllers.Tests.Fakes;
using Ipop.Tincan;

namespace Ipop.Controllers.Tests.GroupVpn;

/// <summary>
/// GroupVPN's structured topology (issue 16) on in-memory signaling and simulated links: bounded links per member, a
/// route (direct or through next hops) from every member to every other, on-demand links, and the <c>auto</c> switch.
/// Fake clock, no sleeps.
/// </summary>
public sealed class StructuredTopologyTests
{
    private static void Structured(GroupVpnOptions o) => o.Topology = "structured";

    private static async Task StepsAsync(GroupCluster cluster, int seconds)
    {
        for (int i = 0; i < seconds; i++)
        {
            await cluster.StepAsync(chaos: false);
        }
    }

    /// <summary>
    /// Follows the route tables hop by hop from <paramref name="from"/> towards <paramref name="to"/>'s address, as the
    /// data plane would forward a packet: the hops taken, or a description of where it stopped.
    /// </summary>
    private static (int Hops, string? Stuck) Walk(GroupCluster cluster, GroupCluster.Member from, GroupCluster.Member to, List<PeerId>? through = null)
    {
        IPAddress destination = to.Controller.Addresses[0].Address;
        GroupCluster.Member at = from;
        for (int hops = 0; hops <= GreedyRingRouter.MaxHops; hops++)
        {
            if (at == to)
            {
                return (hops, null);
            }

            if (at != from)
            {
                through?.Add(at.Id);
            }

            ITincanLink? link = ((RouteTable)at.Tincan.Router!).Lookup(destination);
            if (link is null)
            {
                return (hops, $"{at.Id.Value} has no route to {destination}");
            }

            if (link.Status.State != LinkState.Connected)
            {
                return (hops, $"{at.Id.Value} routes {destination} to {link.Peer.Value}, whose link is {link.Status.State}");
            }

            at = cluster.Members.Single(m => m.Id == link.Peer);
        }

        return (GreedyRingRouter.MaxHops, $"more than {GreedyRingRouter.MaxHops} hops from {from.Id.Value} to {to.Id.Value}");
    }

    [Fact]
    public async Task Twenty_four_members_keep_bounded_links_and_every_member_routes_to_every_other()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(24, seed: 5, configure: Structured);
        await StepsAsync(cluster, 20);

        int bound = StructuredPlan.MaxLinks(24, 2);
        Assert.All(cluster.Members, m => Assert.True(m.Controller.IsStructured, $"{m.Id.Value} is not structured"));
        Assert.All(cluster.Members, m => Assert.InRange(m.Tincan.Links.Count, 2 * 2, bound));
        Assert.True(cluster.Members.Sum(m => m.Tincan.Links.Count) / 2 < 24 * 23 / 2 / 2, "not fewer links than half a mesh");

        var stuck = new List<string>();
        int total = 0;
        int pairs = 0;
        foreach (GroupCluster.Member a in cluster.Members)
        {
            foreach (GroupCluster.Member b in cluster.Members.Where(b => b != a))
            {
                (int hops, string? problem) = Walk(cluster, a, b);
                if (problem is not null)
                {
                    stuck.Add(problem);
                }

                total += hops;
                pairs++;
            }
        }

        Assert.True(stuck.Count == 0, string.Join('\n', stuck.Take(10)) + "\n" + cluster.Describe());
        Assert.InRange(total / (double)pairs, 1, 4); // 24 members, ≤ 9 links each: mostly one or two hops
        Assert.All(cluster.Members, m => Assert.Empty(m.Errors));
    }

    private static List<string> Routes(GroupCluster.Member m) =>
        [.. ((RouteTable)m.Tincan.Router!).GetRoutes().Select(r => $"{r.Prefix} -> {r.Link?.Peer.Value}").Order(StringComparer.Ordinal)];

    private static List<string> Vias(GroupCluster.Member m) =>
        [.. m.Controller.GetMembers().Select(s => $"{s.Peer.Value} via {s.Via?.Value}")];

    /// <summary>
    /// A join or leave far away re-routes only the addresses whose holder changed (the connected links, and so every
    /// next hop, stay the same); a change of links re-routes everything. Either way the routes must be exactly those a
    /// re-route of every address computes, checked right after each change and again once the links followed.
    /// </summary>
    [Fact]
    public async Task Routes_kept_current_through_joins_and_leaves_are_those_a_full_re_route_computes()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(24, seed: 9, configure: Structured);
        await StepsAsync(cluster, 10);
        var random = new Random(9);
        for (int change = 0; change < 8; change++)
        {
            GroupCluster.Member m = cluster.Members[random.Next(cluster.Members.Count)];
            if (m.InGroup)
            {
                await m.LeaveAsync();
            }
            else
            {
                await m.RejoinAsync();
            }

            await cluster.SettleAsync(); // presence handled, links not moved yet
            AssertSameAsFullReroute(cluster, $"right after change {change}");
            await StepsAsync(cluster, 3);
            AssertSameAsFullReroute(cluster, $"3 s after change {change}");
        }

        foreach (GroupCluster.Member a in cluster.Members.Where(m => m.InGroup))
        {
            foreach (GroupCluster.Member b in cluster.Members.Where(b => b != a && b.InGroup))
            {
                Assert.Null(Walk(cluster, a, b).Stuck);
            }

            // The hops of a member reached through another are counted when asked (at least: to the next hop, then on).
            Assert.All(a.Controller.GetMembers().Where(s => s.Via is not null), s => Assert.InRange(s.Hops ?? 0, 2, GreedyRingRouter.MaxHops));
        }
    }

    private static void AssertSameAsFullReroute(GroupCluster cluster, string when)
    {
        foreach (GroupCluster.Member m in cluster.Members)
        {
            List<string> routes = Routes(m);
            List<string> vias = Vias(m);
            m.Controller.RerouteAll();
            Assert.True(routes.SequenceEqual(Routes(m)), $"{when}: {m.Id.Value}'s routes differ from a full re-route:\n{string.Join('\n', routes.Except(Routes(m)))}\n--\n{string.Join('\n', Routes(m).Except(routes))}");
            Assert.Equal(vias, Vias(m));
        }
    }

    /// <summary>
    /// A member whose session ended (a crash: its kernel closes the XMPP connection and the server says it left at once)
    /// keeps its link for the presence grace, but carries nobody else's traffic meanwhile: forwarding through it would
    /// lose packets until its link is declared down. Back under the same session, it forwards again.
    /// </summary>
    [Fact]
    public async Task A_member_whose_session_ended_forwards_for_nobody_until_it_is_back()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(24, seed: 5, configure: Structured, reportSessionEnds: true);
        await StepsAsync(cluster, 20);

        // The member that the most pairs go through.
        var transits = new Dictionary<PeerId, int>();
        foreach (GroupCluster.Member a in cluster.Members)
        {
            foreach (GroupCluster.Member b in cluster.Members.Where(b => b != a))
            {
                var through = new List<PeerId>();
                Assert.Null(Walk(cluster, a, b, through).Stuck);
                foreach (PeerId hop in through)
                {
                    transits[hop] = transits.GetValueOrDefault(hop) + 1;
                }
            }
        }

        PeerId busiest = transits.MaxBy(t => t.Value).Key;
        GroupCluster.Member away = cluster.Members.Single(m => m.Id == busiest);
        Dictionary<PeerId, List<string>> before = cluster.Members.ToDictionary(m => m.Id, Routes);
        List<GroupCluster.Member> linkedToIt = [.. cluster.Members.Where(m => m.Tincan.Links.Any(l => l.Peer == busiest))];
        Assert.NotEmpty(linkedToIt);

        away.Node.SimulateDisconnect("killed");
        await cluster.SettleAsync(); // presence delivered; the clock has not moved, so no link went down

        var stuck = new List<string>();
        foreach (GroupCluster.Member a in cluster.Members.Where(m => m != away))
        {
            foreach (GroupCluster.Member b in cluster.Members.Where(b => b != a && b != away))
            {
                var through = new List<PeerId>();
                if (Walk(cluster, a, b, through).Stuck is { } problem)
                {
                    stuck.Add(problem);
                }
                else if (through.Contains(busiest))
                {
                    stuck.Add($"{a.Id.Value} -> {b.Id.Value} still goes through {busiest.Value}");
                }
            }
        }

        Assert.True(stuck.Count == 0, $"{transits[busiest]} pairs went through {busiest.Value}:\n{string.Join('\n', stuck.Take(10))}");
        Assert.All(linkedToIt, m => Assert.Contains(m.Tincan.Links, l => l.Peer == busiest && l.Status.State == LinkState.Connected)); // the grace kept the links
        Assert.All(linkedToIt, m => Assert.Contains(m.Log.Lines, l => l.Message.Contains($"member {busiest.Value} no longer forwards for others", StringComparison.Ordinal)));
        AssertSameAsFullReroute(cluster, "while it is away");

        away.Node.SimulateReconnect();
        await cluster.SettleAsync();
        Assert.All(cluster.Members, m => Assert.Equal(before[m.Id], Routes(m)));
        Assert.All(linkedToIt, m => Assert.Contains(m.Log.Lines, l => l.Message.Contains($"member {busiest.Value} forwards for others again", StringComparison.Ordinal)));
        Assert.All(cluster.Members, m => Assert.Empty(m.Errors));
    }

    [Fact]
    public async Task A_member_without_a_direct_link_is_shown_with_the_member_it_is_reached_through()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(20, seed: 2, configure: Structured);
        await StepsAsync(cluster, 15);
        GroupCluster.Member a = cluster.Members[0];
        var linked = a.Tincan.Links.Select(l => l.Peer).ToHashSet();
        IReadOnlyList<GroupMemberStatus> members = a.Controller.GetMembers();
        Assert.Equal(19, members.Count);
        Assert.All(members, s => Assert.Equal(linked.Contains(s.Peer), s.Via is null));
        Assert.All(members.Where(s => s.Via is not null), s => Assert.Contains(s.Via!.Value, linked));
    }

    [Fact]
    public async Task Auto_is_a_mesh_up_to_the_threshold_and_structured_above_it()
    {
        await using GroupCluster small = await GroupCluster.StartAsync(6, seed: 1, configure: o => o.StructuredAbove = 6);
        await StepsAsync(small, 5);
        Assert.All(small.Members, m => Assert.False(m.Controller.IsStructured));
        Assert.All(small.Members, m => Assert.Equal(5, m.Tincan.Links.Count));

        await using GroupCluster large = await GroupCluster.StartAsync(12, seed: 1, configure: o => o.StructuredAbove = 6);
        await StepsAsync(large, 10);
        Assert.All(large.Members, m => Assert.True(m.Controller.IsStructured));
        Assert.All(large.Members, m => Assert.InRange(m.Tincan.Links.Count, 4, StructuredPlan.MaxLinks(12, 2)));
    }

    /// <summary>Sender 0 has the lowest id (it would offer anyway), sender 19 the highest (only its wish starts the link).</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(19)]
    public async Task Traffic_through_other_members_earns_a_direct_link_that_is_released_when_idle(int sender)
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(20, seed: 9, configure: o =>
        {
            o.Topology = "structured";
            o.OnDemandPacketsPerSecond = 20;
            o.OnDemandIdleSeconds = 10;
        });
        await StepsAsync(cluster, 15);
        GroupCluster.Member a = cluster.Members[sender];
        GroupCluster.Member far = cluster.Members.First(m => m != a && !cluster.Links.Linked(a.Id, m.Id));
        byte[] packet = Ipv4(a.Controller.Addresses[0].Address, far.Controller.Addresses[0].Address);
        var routes = (RouteTable)a.Tincan.Router!;
        for (int second = 0; second < 8 && !cluster.Links.Linked(a.Id, far.Id); second++)
        {
            for (int i = 0; i < 30; i++)
            {
                Assert.Equal(RouteAction.Unicast, routes.RouteOutbound(packet).Action);
            }

            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Links.Linked(a.Id, far.Id), "no on-demand link after 8 s of 30 packets/s\n" + cluster.Describe());
        Assert.Contains(a.Log.Lines, l => l.Message.Contains($"on-demand link to {far.Id.Value}", StringComparison.Ordinal));
        Assert.Same(a.Tincan.Links.Single(l => l.Peer == far.Id), routes.Lookup(far.Controller.Addresses[0].Address));

        await StepsAsync(cluster, 20); // silent for twice the idle time
        Assert.False(cluster.Links.Linked(a.Id, far.Id), "the idle on-demand link was kept\n" + cluster.Describe());
        Assert.Contains(a.Log.Lines, l => l.Message.Contains($"on-demand link to {far.Id.Value} released", StringComparison.Ordinal));
        Assert.NotNull(routes.Lookup(far.Controller.Addresses[0].Address)); // reached through others again
    }

    [Fact]
    public async Task A_member_announcing_another_members_address_gets_no_route_to_it_and_a_malformed_announcement_is_logged()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(18, seed: 4, configure: Structured);
        await StepsAsync(cluster, 10);
        GroupCluster.Member victim = cluster.Members[1];
        GroupCluster.Member liar = cluster.Members[2];
        IPAddress stolen = victim.Controller.Addresses[0].Address;
        await liar.Node.SetAnnouncementAsync($"a={stolen} a=not-an-address", CancellationToken.None);
        await StepsAsync(cluster, 3);

        GroupCluster.Member observer = cluster.Members.First(m => m != victim && m != liar && !cluster.Links.Linked(m.Id, victim.Id));
        (int _, string? stuck) = Walk(cluster, observer, victim);
        Assert.Null(stuck);
        Assert.Contains(observer.Log.Lines, l => l.Message.Contains($"refused {liar.Id.Value}'s claim of {stolen}", StringComparison.Ordinal));
        Assert.Contains(observer.Log.Lines, l => l.Message.Contains($"member {liar.Id.Value}'s presence announcement was partly ignored: 'a=not-an-address' is not an address", StringComparison.Ordinal));
    }

    private static byte[] Ipv4(IPAddress source, IPAddress destination)
    {
        byte[] p = new byte[28];
        p[0] = 0x45;
        p[3] = 28;
        p[8] = 64;
        p[9] = 17;
        source.TryWriteBytes(p.AsSpan(12), out _);
        destination.TryWriteBytes(p.AsSpan(16), out _);
        return p;
    }

    [Fact]
    public void Topology_options_errors_name_the_key_and_what_was_expected()
    {
        IReadOnlyList<string> errors = new GroupVpnOptions
        {
            Group = "g", Subnet = "198.19.0.0/16", Topology = "ring", StructuredAbove = 2, RingNeighbours = 0,
            OnDemandPacketsPerSecond = 0, OnDemandIdleSeconds = 0, OnDemandMaxLinks = -1,
        }.Validate();
        Assert.Contains("GroupVpn:Topology must be 'mesh', 'structured' or 'auto', got 'ring'.", errors);
        Assert.Contains("GroupVpn:StructuredAbove must be between 3 and 100000 members, got 2.", errors);
        Assert.Contains("GroupVpn:RingNeighbours must be between 1 and 8, got 0.", errors);
        Assert.Contains("GroupVpn:OnDemandPacketsPerSecond must be between 1 and 1000000, got 0.", errors);
        Assert.Contains("GroupVpn:OnDemandIdleSeconds must be between 1 and 86400 (a day), got 0.", errors);
        Assert.Contains("GroupVpn:OnDemandMaxLinks must be between 0 and 1024, got -1.", errors);
        // Switch mode forwards frames between members too (a bounded flood along the ring), so every topology is valid there.
        Assert.Empty(new GroupVpnOptions { Group = "g", Subnet = "198.19.0.0/16", Topology = "structured", Mode = "tap" }.Validate());
        Assert.Empty(new GroupVpnOptions { Group = "g", Subnet = "198.19.0.0/16", Mode = "tap" }.Validate());
    }
}
