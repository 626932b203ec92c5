using Ipop.Controllers.Tests.Fakes;
using Ipop.Testing;

namespace Ipop.Controllers.Tests.Negotiation;

/// <summary>
/// Liveness as a property: whatever signaling loses, duplicates or reorders and however links fail, the links
/// that members want and the links that are up end up the same. Fake clock, seeded faults, no sleeps.
/// </summary>
public sealed class LinkConvergenceTests
{
    public static TheoryData<int> Seeds => [.. Enumerable.Range(1, 30)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Wanted_and_connected_links_converge_despite_lossy_signaling_failing_links_churn_and_outages(int seed)
    {
        var random = new Random(seed);
        var faults = new InMemorySignalingFaults(new Random(seed)) { DropProbability = 0.25, DuplicateProbability = 0.25, ReorderProbability = 0.25 };
        await using GroupCluster cluster = await GroupCluster.StartAsync(6, seed, faults);

        // Chaos: handshakes fail at random, connected links die at random, members leave and come back, the
        // signaling server goes away now and then.
        int outageEndsAt = -1;
        for (int t = 0; t < 240; t++)
        {
            if (outageEndsAt < 0 && random.NextDouble() < 0.01)
            {
                cluster.Signaling.SimulateServerOutage();
                outageEndsAt = t + random.Next(5, 60);
            }
            else if (t == outageEndsAt)
            {
                cluster.Signaling.EndServerOutage();
                outageEndsAt = -1;
            }

            if (random.NextDouble() < 0.02 && cluster.Members.Where(m => m.InGroup).ToList() is { Count: > 2 } inside)
            {
                await inside[random.Next(inside.Count)].LeaveAsync();
            }

            if (random.NextDouble() < 0.05 && cluster.Members.Where(m => !m.InGroup).ToList() is { Count: > 0 } outside)
            {
                await outside[random.Next(outside.Count)].RejoinAsync();
            }

            await cluster.StepAsync(chaos: true);
        }

        // Calm links (signaling stays lossy): everything wanted must come up, and nothing else may remain.
        if (outageEndsAt >= 0)
        {
            cluster.Signaling.EndServerOutage();
        }

        foreach (GroupCluster.Member m in cluster.Members.Where(m => !m.InGroup))
        {
            await m.RejoinAsync();
        }

        int seconds = 0;
        while (!cluster.Converged() && seconds < 300)
        {
            await cluster.StepAsync(chaos: false);
            seconds++;
        }

        Assert.True(cluster.Converged(), $"seed {seed}: not converged {seconds} s after the chaos ended:\n{cluster.Describe()}");
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed}: converged {seconds} s after the chaos; links created {cluster.Members.Sum(m => m.Tincan.Created)}; messages dropped {cluster.Members.Sum(m => m.Node.DroppedMessages)}; refused {cluster.Members.Sum(m => m.Controller.Negotiator.Refused)}");

        // And it stays so: no flapping, no link made again once up.
        int[] created = [.. cluster.Members.Select(m => m.Tincan.Created)];
        for (int t = 0; t < 120; t++)
        {
            await cluster.StepAsync(chaos: false);
            Assert.True(cluster.Converged(), $"seed {seed}: fell apart {t} s after converging:\n{cluster.Describe()}");
        }

        Assert.Equal(created, cluster.Members.Select(m => m.Tincan.Created));
        Assert.Empty(cluster.Members.SelectMany(m => m.Errors));

        // Honest members never trip a refusal, however their messages were mangled: a refusal is a real signal.
        Assert.All(cluster.Members, m => Assert.Equal(0, m.Controller.Negotiator.Refused));
    }

    [Fact]
    public async Task Every_message_delivered_twice_still_creates_each_link_once()
    {
        var faults = new InMemorySignalingFaults(new Random(7)) { DuplicateProbability = 1 };
        await using GroupCluster cluster = await GroupCluster.StartAsync(4, 7, faults);
        for (int t = 0; t < 10 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        Assert.All(cluster.Members, m => Assert.Equal(3, m.Tincan.Created));
    }

    [Fact]
    public async Task A_link_that_failed_on_both_sides_at_once_is_made_again_once_per_side()
    {
        // Both sides retry: the initiator offers while the other side asks for an offer. The crossing request
        // must not start a second exchange, so each side creates exactly one new link.
        await using GroupCluster cluster = await GroupCluster.StartAsync(2, 3);
        for (int t = 0; t < 10 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member b = cluster.Members[1];
        a.Tincan.Set(a.Tincan.Find(b.Id)!, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.HandshakeTimedOut));
        b.Tincan.Set(b.Tincan.Find(a.Id)!, new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.HandshakeTimedOut));
        await cluster.SettleAsync();
        for (int t = 0; t < 10 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        Assert.Equal(2, a.Tincan.Created);
        Assert.Equal(2, b.Tincan.Created);
    }

    [Fact]
    public async Task A_link_removed_underneath_or_stuck_connecting_is_retried()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(2, 5);
        for (int t = 0; t < 10 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member b = cluster.Members[1];

        // Removed underneath (no event at all): the tick notices and the pair links again.
        b.Tincan.RemoveLink(a.Id);
        for (int t = 0; t < 30 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
    }
}
