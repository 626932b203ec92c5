using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.Tests.DataPlane.Link;

public sealed class PathSelectorTests
{
    private static readonly LinkTimings T = Timings.Default;

    [Fact]
    public void The_first_datagram_chooses_the_path()
    {
        Assert.Equal(PathVerdict.Adopt, new PathSelector(T).Observe(null, PathArrival.Direct, false, 0, handshake: true));
        Assert.Equal(PathVerdict.Adopt, new PathSelector(T).Observe(null, PathArrival.OurRelay, false, 0, handshake: true));
        Assert.Equal(PathVerdict.Adopt, new PathSelector(T).Observe(null, PathArrival.PeerRelay, false, 0, handshake: true));
    }

    [Fact]
    public void A_relayed_link_moves_to_direct_as_soon_as_a_direct_datagram_authenticates()
    {
        var p = new PathSelector(T);
        Assert.Equal(PathVerdict.Keep, p.Observe(LinkPath.Relayed, PathArrival.OurRelay, true, 1_000, handshake: false));
        Assert.Equal(PathVerdict.Adopt, p.Observe(LinkPath.Relayed, PathArrival.Direct, false, 1_100, handshake: false));
        Assert.Equal(1_100, p.LastDirectReceived);
    }

    [Fact]
    public void A_direct_link_falls_back_to_the_relay_only_once_direct_went_silent()
    {
        var p = new PathSelector(T);
        p.OnDirectReceived(10_000);

        // Data through the relay while direct is healthy (a peer's stray copy): stay.
        Assert.Equal(PathVerdict.Keep, p.Observe(LinkPath.DirectHost, PathArrival.OurRelay, false, 22_999, handshake: false));
        Assert.Equal(PathVerdict.Adopt, p.Observe(LinkPath.DirectHost, PathArrival.OurRelay, false, 23_000, handshake: false));

        // A handshake through the relay: the peer's direct copy went unanswered for a handshake timeout.
        Assert.Equal(PathVerdict.Keep, p.Observe(LinkPath.DirectServerReflexive, PathArrival.PeerRelay, false, 12_999, handshake: true));
        Assert.Equal(PathVerdict.Adopt, p.Observe(LinkPath.DirectServerReflexive, PathArrival.PeerRelay, false, 13_000, handshake: true));
    }

    [Fact]
    public void A_direct_path_follows_the_peer_to_its_new_address_after_a_NAT_rebinding()
    {
        var p = new PathSelector(T);
        Assert.Equal(PathVerdict.Follow, p.Observe(LinkPath.DirectServerReflexive, PathArrival.Direct, false, 5_000, handshake: false));
        Assert.Equal(5_000, p.LastDirectReceived);
    }

    [Fact]
    public void While_relayed_direct_candidates_are_probed_with_a_backoff()
    {
        var p = new PathSelector(T);
        p.ProbeSoon();
        Assert.False(p.ProbesDue(LinkPath.DirectHost, 0));
        var due = new List<long>();
        for (long now = 0; now <= 120_000; now += 100)
        {
            if (p.ProbesDue(LinkPath.Relayed, now))
            {
                due.Add(now);
            }
        }

        Assert.Equal([0, 3_000, 9_000, 21_000, 45_000, 69_000, 93_000, 117_000], due);

        // New candidates (or a new move to the relay) probe again at once.
        p.ProbeSoon();
        Assert.True(p.ProbesDue(LinkPath.Relayed, 120_000));
    }
}
