namespace Ipop.Simulator.Tests;

public sealed class SimulationTests
{
    private static SimulationSettings Small(TopologyKind topology, int seed = 1) => new()
    {
        Nodes = 64,
        Topology = topology,
        Probes = 500,
        DurationSeconds = 60,
        ChurnPercentPerMinute = 10,
        Seed = seed,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Sixty_four_structured_members_converge_and_deliver_every_probe(int seed)
    {
        SimulationResult r = new Simulation(Small(TopologyKind.Structured, seed)).Run();

        Assert.False(double.IsNaN(r.ConvergedSeconds), "did not converge");
        // The members come online over 10 s; the last ones need a plan tick (1 s) and one link setup.
        Assert.InRange(r.ConvergedSeconds, 10, 60);
        Assert.Equal(500, r.Steady.Sent);
        Assert.Equal(100.0, r.Steady.DeliveryPercent);
        Assert.True(r.Churned.Leaves > 0, "no churn happened");
        Assert.True(r.Churned.DeliveryPercent >= 99.0, $"churn delivery {r.Churned.DeliveryPercent:F2}%");
        Assert.Equal(10, r.LinkBound); // 2k + ceil(log2 64)
        Assert.InRange(r.MaxLinks, 5, r.LinkBound);
        Assert.InRange(r.Steady.MeanLinks, 4.5, r.LinkBound);
        Assert.InRange(r.Steady.MaxHops, 1, 6 * 6);
    }

    [Fact]
    public void The_mesh_links_everyone_to_everyone_in_one_hop()
    {
        SimulationResult r = new Simulation(Small(TopologyKind.Mesh)) .Run();

        Assert.Equal(100.0, r.Steady.DeliveryPercent);
        Assert.Equal(63, r.Steady.MaxLinks);
        Assert.Equal(1.0, r.Steady.MeanHops, 1);
    }

    [Fact]
    public void The_same_seed_gives_the_same_run()
    {
        // Everything but the wall-clock times (the plan build time and wall_s on the last line).
        string[] a = [.. new Simulation(Small(TopologyKind.Structured, 7)).Run().Report().Where(l => !l.Contains("wall", StringComparison.Ordinal))];
        string[] b = [.. new Simulation(Small(TopologyKind.Structured, 7)).Run().Report().Where(l => !l.Contains("wall", StringComparison.Ordinal))];
        Assert.True(a.Length >= 4, string.Join('\n', a));
        Assert.Equal(a, b);
    }

    [Fact]
    public void Structured_control_traffic_per_member_is_far_below_the_mesh()
    {
        SimulationResult mesh = new Simulation(Small(TopologyKind.Mesh) with { ChurnPercentPerMinute = 0 }).Run();
        SimulationResult ring = new Simulation(Small(TopologyKind.Structured) with { ChurnPercentPerMinute = 0 }).Run();

        double meshNegotiation = mesh.JoinMessagesPerNode - mesh.JoinPresencePerNode;
        double ringNegotiation = ring.JoinMessagesPerNode - ring.JoinPresencePerNode;
        Assert.True(ringNegotiation < meshNegotiation / 2, $"structured {ringNegotiation:F1} vs mesh {meshNegotiation:F1} negotiation messages per member");
    }

    [Fact]
    public void Members_that_talk_get_a_direct_link_and_the_cap_holds()
    {
        SimulationResult r = new Simulation(Small(TopologyKind.Structured) with { ActivePercent = 25 }).Run();

        Assert.Equal(16, r.Steady.Flows);
        Assert.Equal(r.Steady.Flows, r.Steady.FlowsDirect);
        Assert.True(r.Churned.FlowsDirect >= r.Churned.Flows - 2, $"{r.Churned.FlowsDirect} of {r.Churned.Flows} flows direct under churn");
        Assert.Equal(14, r.LinkBound); // 2k + ceil(log2 64) + cap 4
        Assert.InRange(r.MaxLinks, 5, r.LinkBound);
        Assert.Equal(100.0, r.Steady.DeliveryPercent);
    }
}
