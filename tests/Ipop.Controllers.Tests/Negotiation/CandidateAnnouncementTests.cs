using Ipop.Controllers.Tests.Fakes;
using Ipop.Testing;

namespace Ipop.Controllers.Tests.Negotiation;

/// <summary>
/// Roaming through signaling: when a node's candidates change (Tincan's LocalCandidatesChanged), its peers get the
/// new descriptor at once and update their links in place: no link object is made again, the links stay connected.
/// </summary>
public sealed class CandidateAnnouncementTests
{
    [Fact]
    public async Task Each_peer_learns_a_moved_nodes_new_candidates_without_a_new_link()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(3, seed: 7);
        await ConvergeAsync(cluster);
        int[] created = [.. cluster.Members.Select(m => m.Tincan.Created)];

        // Each member moves in turn: it is the initiator toward some peers and the answering side toward others.
        for (int i = 0; i < cluster.Members.Count; i++)
        {
            GroupCluster.Member moved = cluster.Members[i];
            string endpoint = $"198.18.9.{i + 1}:6000";
            moved.Tincan.Move(endpoint);
            await cluster.SettleAsync();
            foreach (GroupCluster.Member other in cluster.Members.Where(m => m != moved))
            {
                Assert.Equal(endpoint, other.Tincan.RemoteEndpoints[moved.Id]);
            }
        }

        Assert.True(cluster.Converged(), cluster.Describe());
        Assert.Equal(created, cluster.Members.Select(m => m.Tincan.Created));
    }

    [Fact]
    public async Task Two_nodes_moving_at_once_both_learn_the_others_new_candidates()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(2, seed: 3);
        await ConvergeAsync(cluster);
        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member b = cluster.Members[1];

        a.Tincan.Move("198.18.9.1:6000");
        b.Tincan.Move("198.18.9.2:6000");
        await cluster.SettleAsync();

        Assert.Equal("198.18.9.1:6000", b.Tincan.RemoteEndpoints[a.Id]);
        Assert.Equal("198.18.9.2:6000", a.Tincan.RemoteEndpoints[b.Id]);
        Assert.Equal(1, a.Tincan.Created);
        Assert.Equal(1, b.Tincan.Created);
    }

    [Fact]
    public async Task A_move_during_a_signaling_outage_is_announced_after_the_reconnect()
    {
        await using GroupCluster cluster = await GroupCluster.StartAsync(2, seed: 5);
        await ConvergeAsync(cluster);
        GroupCluster.Member a = cluster.Members[0];
        GroupCluster.Member b = cluster.Members[1];

        cluster.Signaling.SimulateServerOutage();
        await cluster.StepAsync(chaos: false);
        a.Tincan.Move("198.18.9.1:6000");
        await cluster.StepAsync(chaos: false);
        Assert.NotEqual("198.18.9.1:6000", b.Tincan.RemoteEndpoints[a.Id]);

        cluster.Signaling.EndServerOutage();
        for (int t = 0; t < 30 && b.Tincan.RemoteEndpoints[a.Id] != "198.18.9.1:6000"; t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.Equal("198.18.9.1:6000", b.Tincan.RemoteEndpoints[a.Id]);
    }

    [Fact]
    public async Task An_offer_lost_just_before_the_peer_asks_for_one_is_sent_again_a_second_later()
    {
        // Both nodes moved at once (the lab's RoamingSignalingTests): the initiator's offer went into the peer's dead
        // signaling session, then the peer's request came and looked like one crossing that offer.
        await using GroupCluster cluster = await GroupCluster.StartAsync(2, seed: 3);
        await ConvergeAsync(cluster);
        GroupCluster.Member initiator = cluster.Members.MinBy(m => m.Id.Value, StringComparer.Ordinal)!;
        GroupCluster.Member other = cluster.Members.Single(m => m != initiator);

        cluster.Signaling.Faults = new InMemorySignalingFaults(new Random(1)) { DropProbability = 1 };
        initiator.Tincan.Move("198.18.9.1:6000");
        await initiator.Controller.Negotiator.DrainAsync(CancellationToken.None);
        cluster.Signaling.Faults = null;
        other.Tincan.Move("198.18.9.2:6000");
        await cluster.SettleAsync();
        Assert.NotEqual("198.18.9.1:6000", other.Tincan.RemoteEndpoints[initiator.Id]);

        int seconds = 0;
        while (other.Tincan.RemoteEndpoints[initiator.Id] != "198.18.9.1:6000" && seconds < 15)
        {
            await cluster.StepAsync(chaos: false);
            seconds++;
        }

        // A crossing offer is answered one server round trip after the request: a second without one means it was lost
        // (it waited four seconds before, the answer timeout is ten).
        Assert.Equal("198.18.9.1:6000", other.Tincan.RemoteEndpoints[initiator.Id]);
        Assert.Equal("198.18.9.2:6000", initiator.Tincan.RemoteEndpoints[other.Id]);
        Assert.True(seconds <= 1, $"the new offer went after {seconds} s");
        Assert.Equal(1, initiator.Tincan.Created);
        Assert.Equal(1, other.Tincan.Created);
    }

    private static async Task ConvergeAsync(GroupCluster cluster)
    {
        for (int t = 0; t < 60 && !cluster.Converged(); t++)
        {
            await cluster.StepAsync(chaos: false);
        }

        Assert.True(cluster.Converged(), cluster.Describe());
    }
}
