using Ipop.Controllers.Tests.Fakes;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers.Tests.Negotiation;

/// <summary>Links outlive the signaling server, for a bounded time, and come back at once with it.</summary>
public sealed class SignalingOutageTests
{
    private static async Task<GroupCluster> ConvergedAsync(int size, Action<GroupVpnOptions>? configure = null)
    {
        GroupCluster cluster = await GroupCluster.StartAsync(size, 11, configure: configure);
        for (int t = 0; t < 10 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        return cluster;
    }

    private static bool AllLinked(GroupCluster cluster) =>
        cluster.Members.All(a => cluster.Members.All(b => a == b || cluster.Links.Linked(a.Id, b.Id)));

    [Fact]
    public async Task Links_survive_a_server_outage_and_nothing_is_made_again_when_it_ends()
    {
        await using GroupCluster cluster = await ConvergedAsync(3);
        int[] created = [.. cluster.Members.Select(m => m.Tincan.Created)];

        cluster.Signaling.SimulateServerOutage();
        for (int t = 0; t < 600; t++)
        {
            await cluster.StepAsync(chaos: false);
            Assert.True(AllLinked(cluster), $"a link ended {t} s into the outage:\n{cluster.Describe()}");
        }

        cluster.Signaling.EndServerOutage();
        for (int t = 0; t < 30; t++)
        {
            await cluster.StepAsync(chaos: false);
            Assert.True(AllLinked(cluster), cluster.Describe());
        }

        Assert.Equal(created, cluster.Members.Select(m => m.Tincan.Created));
        Assert.Contains(cluster.Members[0].Log.Lines, l => l.Level == LogLevel.Warning && l.Message.StartsWith("signaling lost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Links_end_after_the_outage_lifetime_and_return_when_signaling_does()
    {
        await using GroupCluster cluster = await ConvergedAsync(3, o => o.SignalingOutageLinkLifetimeSeconds = 120);
        cluster.Signaling.SimulateServerOutage();
        for (int t = 0; t < 119; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(AllLinked(cluster), cluster.Describe());
        await cluster.StepAsync(chaos: false);
        await cluster.StepAsync(chaos: false);
        Assert.All(cluster.Members, m => Assert.Empty(m.Tincan.Links));
        Assert.Contains(cluster.Members[0].Log.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("ending 2 links whose peers' membership could not be re-checked", StringComparison.Ordinal));

        cluster.Signaling.EndServerOutage();
        await cluster.SettleAsync();
        int seconds = 0;
        while (!AllLinked(cluster) && seconds < 10)
        {
            await cluster.StepAsync(chaos: false);
            seconds++;
        }

        Assert.True(AllLinked(cluster), $"links did not return after the outage:\n{cluster.Describe()}");
        Assert.InRange(seconds, 0, 3);
    }

    [Fact]
    public async Task A_link_that_fails_during_an_outage_waits_and_is_retried_at_once_on_reconnect()
    {
        // A long backoff (20..60 s) must not delay the retry once signaling is back: the outage was the obstacle.
        await using GroupCluster cluster = await ConvergedAsync(2, o => (o.LinkRetryMinSeconds, o.LinkRetryMaxSeconds) = (20, 60));
        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member b = cluster.Members[1];
        cluster.Signaling.SimulateServerOutage();
        await cluster.StepAsync(chaos: false);
        a.Tincan.Set(a.Tincan.Find(b.Id)!, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        b.Tincan.Set(b.Tincan.Find(a.Id)!, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        for (int t = 0; t < 60; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        // Nothing could be sent, and nothing was removed: the failed links wait.
        Assert.Equal(1, a.Tincan.Created);
        Assert.Equal(LinkState.Failed, a.Tincan.Find(b.Id)!.Status.State);

        cluster.Signaling.EndServerOutage();
        await cluster.SettleAsync();
        int seconds = 0;
        while (!cluster.Converged() && seconds < 30)
        {
            await cluster.StepAsync(chaos: false);
            seconds++;
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        Assert.InRange(seconds, 0, 2);
    }

    [Fact]
    public async Task A_member_that_left_during_the_outage_loses_its_links_on_reconnect()
    {
        await using GroupCluster cluster = await ConvergedAsync(3);
        cluster.Signaling.SimulateServerOutage();
        await cluster.StepAsync(chaos: false);

        // Its membership changed while nobody could hear it: decided when signaling returns.
        await cluster.Members[2].LeaveAsync();
        await cluster.StepAsync(chaos: false);
        Assert.True(AllLinked(cluster), cluster.Describe());

        // Absent after the reconnect looks like "not back yet" (a room's occupants after a server restart): its
        // links stay for the reconnect grace (120 s), then end.
        cluster.Signaling.EndServerOutage();
        for (int t = 0; t < 118; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.NotNull(cluster.Members[0].Tincan.Find(cluster.Members[2].Id));
        for (int t = 0; t < 3; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        Assert.Null(cluster.Members[0].Tincan.Find(cluster.Members[2].Id));
    }

    [Fact]
    public async Task Without_an_outage_a_member_that_leaves_loses_its_links_at_once()
    {
        await using GroupCluster cluster = await ConvergedAsync(3);
        await cluster.Members[2].LeaveAsync();
        await cluster.SettleAsync();
        Assert.True(cluster.Converged(), cluster.Describe());
        Assert.Empty(cluster.Members[2].Tincan.Links);
    }

    [Fact]
    public void The_outage_lifetime_is_validated_and_defaults_to_an_hour()
    {
        Assert.Equal(3600, new GroupVpnOptions().SignalingOutageLinkLifetimeSeconds);
        Assert.Equal(3600, new SocialVpnOptions().SignalingOutageLinkLifetimeSeconds);
        Assert.Contains(new GroupVpnOptions { Group = "g", Subnet = "198.19.0.0/16", SignalingOutageLinkLifetimeSeconds = 0 }.Validate(),
            e => e.StartsWith("GroupVpn:SignalingOutageLinkLifetimeSeconds must be between 1 and 604800", StringComparison.Ordinal));
        Assert.Contains(new SocialVpnOptions { SignalingOutageLinkLifetimeSeconds = double.NaN }.Validate(),
            e => e.StartsWith("SocialVpn:SignalingOutageLinkLifetimeSeconds must be between 1 and 604800", StringComparison.Ordinal));
    }
}
