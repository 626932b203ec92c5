using Ipop.Controllers.Tests.Fakes;

namespace Ipop.Controllers.Tests.Negotiation;

/// <summary>
/// Idle at zero (issue 14): the negotiator has no periodic tick; its one timer fires only for real deadlines. The
/// old 1 s tick fired 600 times in the 10 minutes these tests idle for.
/// </summary>
public sealed class IdleWakeupTests
{
    private static async Task<GroupCluster> ConvergedAsync(int size, Action<GroupVpnOptions>? configure = null)
    {
        GroupCluster cluster = await GroupCluster.StartAsync(size, 21, configure: configure);
        for (int t = 0; t < 10 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        return cluster;
    }

    [Theory]
    [InlineData("tun", 0)]
    [InlineData("tap", 2)] // the learning switch's purge, once per aging time (300 s)
    public async Task A_node_with_one_connected_idle_link_wakes_up_a_handful_of_times_in_ten_minutes(string mode, int most)
    {
        await using GroupCluster cluster = await ConvergedAsync(2, o => o.Mode = mode);
        long[] before = [.. cluster.Members.Select(m => m.Controller.Negotiator.Wakeups)];
        for (int t = 0; t < 600; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        long[] wakeups = [.. cluster.Members.Select((m, i) => m.Controller.Negotiator.Wakeups - before[i])];
        TestContext.Current.TestOutputHelper?.WriteLine($"{mode}: wakeups in 600 s per node: {string.Join(", ", wakeups)}");
        Assert.All(wakeups, w => Assert.InRange(w, 0, most));
        Assert.All(cluster.Members, m => Assert.Equal(1, m.Tincan.Created));
    }

    [Fact]
    public async Task The_timer_is_armed_only_while_something_is_due()
    {
        await using GroupCluster cluster = await ConvergedAsync(2);
        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member b = cluster.Members[1];
        Assert.All(cluster.Members, m => Assert.Null(m.Controller.Negotiator.ArmedFor));

        // The link fails: a retry is due, so the timer is armed (or the retry went out at once); once the link is
        // back up nothing is due any more.
        a.Tincan.Set(a.Tincan.Find(b.Id)!, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        await cluster.SettleAsync();
        Assert.NotNull(a.Controller.Negotiator.ArmedFor);
        for (int t = 0; t < 30 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        await cluster.StepAsync(chaos: false);
        Assert.All(cluster.Members, m => Assert.Null(m.Controller.Negotiator.ArmedFor));
    }

    [Fact]
    public async Task A_signaling_outage_wakes_the_node_for_the_outage_lifetime_only()
    {
        await using GroupCluster cluster = await ConvergedAsync(2, o => o.SignalingOutageLinkLifetimeSeconds = 300);
        long before = cluster.Members[0].Controller.Negotiator.Wakeups;
        cluster.Signaling.SimulateServerOutage();
        await cluster.SettleAsync();
        DateTimeOffset? armed = cluster.Members[0].Controller.Negotiator.ArmedFor;
        Assert.Equal(cluster.Time.GetUtcNow() + TimeSpan.FromSeconds(300), armed);
        for (int t = 0; t < 400; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.All(cluster.Members, m => Assert.Empty(m.Tincan.Links));
        Assert.InRange(cluster.Members[0].Controller.Negotiator.Wakeups - before, 1, 2);
    }
}
