using System.Net;
using Ipop.Tincan.Ice;

namespace Ipop.Tincan.Tests.Ice;

public sealed class ChecklistTests
{
    private static readonly Candidate LocalHost = Cand(CandidateType.Host, "198.18.1.10:5000", 65535);
    private static readonly Candidate LocalSrflx = Cand(CandidateType.ServerReflexive, "198.18.0.11:5000", 65535);
    private static readonly Candidate LocalRelay = Cand(CandidateType.Relayed, "198.18.0.3:49152", 65535);
    private static readonly Candidate RemoteHost = Cand(CandidateType.Host, "198.18.2.10:6000", 65535);
    private static readonly Candidate RemoteSrflx = Cand(CandidateType.ServerReflexive, "198.18.0.12:6000", 65535);
    private static readonly Candidate RemoteRelay = Cand(CandidateType.Relayed, "198.18.0.3:49153", 65535);

    private static Candidate Cand(CandidateType type, string ep, int localPreference) =>
        new(type, IPEndPoint.Parse(ep), Candidate.ComputePriority(type, localPreference), type.ToString());

    private static Checklist Full(bool controlling, CheckSchedule? schedule = null)
    {
        var list = new Checklist(controlling, [LocalHost, LocalSrflx, LocalRelay], schedule);
        list.AddRemoteCandidates([RemoteHost, RemoteSrflx, RemoteRelay]);
        return list;
    }

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void Pairs_are_ordered_by_priority_and_server_reflexive_locals_are_pruned()
    {
        Checklist list = Full(controlling: true);
        // Host base x 3 remotes, relay x (srflx, relay): never from our relay to the peer's (private) host address.
        Assert.Equal(5, list.Entries.Count);
        Assert.DoesNotContain(list.Entries, e => e.Pair.Local.Type == CandidateType.Relayed && e.Pair.Remote.Type == CandidateType.Host);
        Assert.All(list.Entries, e => Assert.NotEqual(CandidateType.ServerReflexive, e.Pair.Local.Type));
        Assert.Equal(LinkPath.DirectHost, list.Entries[0].Pair.PathKind);
        Assert.Equal(LinkPath.DirectServerReflexive, list.Entries[1].Pair.PathKind);
        Assert.Equal(LinkPath.Relayed, list.Entries[^1].Pair.PathKind);
        for (int i = 1; i < list.Entries.Count; i++)
        {
            Assert.True(list.Entries[i - 1].Pair.Priority >= list.Entries[i].Pair.Priority);
        }
    }

    [Fact]
    public void Pair_priority_follows_rfc_8445_and_is_the_same_on_both_sides()
    {
        Assert.Equal((1UL << 32) * 100 + 2 * 200 + 0, CandidatePair.ComputePriority(100, 200));
        Assert.Equal((1UL << 32) * 100 + 2 * 200 + 1, CandidatePair.ComputePriority(200, 100));
        var a = new Checklist(true, [LocalHost]);
        a.AddRemoteCandidates([RemoteHost]);
        var b = new Checklist(false, [RemoteHost]);
        b.AddRemoteCandidates([LocalHost]);
        Assert.Equal(a.Entries[0].Pair.Priority, b.Entries[0].Pair.Priority);
    }

    [Fact]
    public void Ordinary_checks_are_paced_and_go_in_priority_order()
    {
        Checklist list = Full(controlling: true);
        PendingCheck? first = list.Poll(Ms(0));
        Assert.Same(list.Entries[0], first!.Value.Entry);
        Assert.Null(list.Poll(Ms(10)));
        PendingCheck? second = list.Poll(Ms(20));
        Assert.Same(list.Entries[1], second!.Value.Entry);
        Assert.False(second.Value.UseCandidate);
    }

    [Fact]
    public void Unanswered_checks_back_off_and_fail_after_the_last_attempt()
    {
        var schedule = new CheckSchedule { MaxAttempts = 3, InitialRto = Ms(100), MaxRto = Ms(1000) };
        var list = new Checklist(true, [LocalHost], schedule);
        list.AddRemoteCandidates([RemoteHost]);
        CheckEntry e = list.Entries[0];
        Assert.NotNull(list.Poll(Ms(0)));
        Assert.Null(list.Poll(Ms(99)));
        Assert.True(list.Poll(Ms(100))!.Value.IsRetransmission);
        Assert.Null(list.Poll(Ms(299)));
        Assert.True(list.Poll(Ms(300))!.Value.IsRetransmission);
        Assert.Null(list.Poll(Ms(700)));
        Assert.Equal(CandidatePairState.Failed, e.State);
        Assert.True(list.Exhausted);
    }

    [Fact]
    public void Controlling_side_nominates_the_best_working_pair_then_selects_it()
    {
        Checklist list = Full(controlling: true);
        CheckEntry best = list.Entries[0];
        Assert.Same(best, list.Poll(Ms(0))!.Value.Entry);
        list.OnSuccess(best, Ms(5));
        Assert.Equal(Ms(5), best.RoundTripTime);
        Assert.Null(list.Selected);

        PendingCheck nomination = list.Poll(Ms(6))!.Value;
        Assert.Same(best, nomination.Entry);
        Assert.True(nomination.UseCandidate);
        list.OnSuccess(best, Ms(8));
        Assert.Same(best, list.Selected);
        Assert.Equal(LinkPath.DirectHost, list.Selected!.Pair.PathKind);
    }

    [Fact]
    public void Controlling_side_waits_briefly_for_better_pairs_before_nominating_a_worse_one()
    {
        var list = new Checklist(true, [LocalHost, LocalRelay]);
        list.AddRemoteCandidates([RemoteSrflx]);
        CheckEntry direct = list.Entries[0];
        CheckEntry relayed = list.Entries[1];
        Assert.Same(direct, list.Poll(Ms(0))!.Value.Entry);
        Assert.Same(relayed, list.Poll(Ms(20))!.Value.Entry);
        list.OnSuccess(relayed, Ms(30));
        Assert.True(list.Poll(Ms(40)) is null or { UseCandidate: false });
        list.OnSuccess(direct, Ms(50));
        PendingCheck nomination = list.Poll(Ms(60))!.Value;
        Assert.Same(direct, nomination.Entry);
        Assert.True(nomination.UseCandidate);
    }

    [Fact]
    public void A_relayed_pair_that_answers_first_waits_longer_for_direct_pairs_and_the_timer_never_spins()
    {
        var list = new Checklist(true, [LocalHost, LocalRelay]);
        list.AddRemoteCandidates([RemoteSrflx]);
        CheckEntry direct = list.Entries[0];
        CheckEntry relayed = list.Entries[1];
        Assert.Same(direct, list.Poll(Ms(0))!.Value.Entry);
        Assert.Same(relayed, list.Poll(Ms(20))!.Value.Entry);
        list.OnSuccess(relayed, Ms(30));

        // Past the 50 ms a direct pair would wait, but the only answer is the relay's and a hole may still open.
        Assert.True(list.Poll(Ms(100)) is null or { UseCandidate: false });
        Assert.True(list.NextWakeUp(Ms(100)) > Ms(100), "the agent would poll in a loop");

        // The direct pair never answers: after 250 ms the relay is nominated, and while that check is in flight the
        // passed deadline does not make the timer fire again at once.
        PendingCheck? nomination = null;
        int at = 110;
        for (; at <= 400; at += 10)
        {
            nomination = list.Poll(Ms(at));
            if (nomination is { UseCandidate: true })
            {
                break;
            }
        }

        Assert.Equal(relayed, nomination!.Value.Entry);
        Assert.InRange(at, 280, 290);
        Assert.True(list.NextWakeUp(Ms(at)) > Ms(at), "the passed nomination deadline made the timer fire at once");
    }

    [Fact]
    public void A_check_from_the_peer_on_a_pair_whose_own_check_is_in_flight_triggers_a_check_at_once()
    {
        var list = new Checklist(true, [LocalHost]);
        list.AddRemoteCandidates([RemoteHost]);
        CheckEntry e = list.Entries[0];
        Assert.Same(e, list.Poll(Ms(0))!.Value.Entry); // lost: the peer had no link yet
        Assert.Null(list.Poll(Ms(10)));               // its retransmission is due only at 100 ms

        list.OnCheckRequest(LocalHost, RemoteHost.EndPoint, RemoteHost.Priority, useCandidate: false, Ms(20));
        PendingCheck? triggered = list.Poll(Ms(20));
        Assert.NotNull(triggered);
        Assert.Same(e, triggered.Value.Entry);
        Assert.False(triggered.Value.IsRetransmission);
    }

    [Fact]
    public void Controlled_side_selects_the_pair_the_peer_nominates()
    {
        var list = new Checklist(false, [LocalHost]);
        list.AddRemoteCandidates([RemoteHost]);
        CheckEntry e = list.Entries[0];
        list.Poll(Ms(0));
        list.OnSuccess(e, Ms(3));
        Assert.Null(list.Selected);
        list.OnCheckRequest(LocalHost, RemoteHost.EndPoint, RemoteHost.Priority, useCandidate: true, Ms(10));
        Assert.Same(e, list.Selected);
    }

    [Fact]
    public void A_check_from_an_unknown_address_teaches_a_peer_reflexive_candidate_and_triggers_a_check()
    {
        var list = new Checklist(false, [LocalHost]);
        list.AddRemoteCandidates([RemoteHost]);
        var natted = IPEndPoint.Parse("198.18.0.99:40123");
        CheckEntry? learned = list.OnCheckRequest(LocalHost, natted, 1_000_000, useCandidate: false, Ms(0));
        Assert.NotNull(learned);
        Assert.Equal(CandidateType.PeerReflexive, learned!.Pair.Remote.Type);
        Assert.Equal(LinkPath.DirectPeerReflexive, learned.Pair.PathKind);
        Assert.Same(learned, list.Poll(Ms(0))!.Value.Entry);
    }

    [Fact]
    public void A_relayed_link_rechecks_direct_pairs_and_upgrades_when_one_works()
    {
        var schedule = new CheckSchedule { MaxAttempts = 1, DirectRecheckInterval = TimeSpan.FromSeconds(5) };
        var list = new Checklist(true, [LocalHost, LocalRelay], schedule);
        list.AddRemoteCandidates([RemoteSrflx]);
        CheckEntry direct = list.Entries[0];
        CheckEntry relayed = list.Entries[1];
        list.Poll(Ms(0));
        list.Poll(Ms(20));
        list.OnSuccess(relayed, Ms(30));
        // The direct check times out (1 attempt); with nothing better pending, the relay is nominated at once.
        PendingCheck nominate = list.Poll(Ms(100))!.Value;
        Assert.Equal(CandidatePairState.Failed, direct.State);
        Assert.Same(relayed, nominate.Entry);
        Assert.True(nominate.UseCandidate);
        list.OnSuccess(relayed, Ms(110));
        Assert.Equal(LinkPath.Relayed, list.Selected!.Pair.PathKind);

        // The firewall opens; after the recheck interval the direct pair is tried again, works, and wins.
        PendingCheck? recheck = null;
        for (int t = 200; t <= 6000 && recheck is null; t += 50)
        {
            PendingCheck? p = list.Poll(Ms(t));
            if (p is { } c && ReferenceEquals(c.Entry, direct))
            {
                recheck = c;
            }
            else if (p is { } other)
            {
                list.OnSuccess(other.Entry, Ms(t)); // consent checks on the relay keep succeeding
            }
        }

        Assert.NotNull(recheck);
        list.OnSuccess(direct, Ms(6001));
        PendingCheck upgrade = list.Poll(Ms(6002))!.Value;
        Assert.Same(direct, upgrade.Entry);
        Assert.True(upgrade.UseCandidate);
        list.OnSuccess(direct, Ms(6003));
        Assert.Same(direct, list.Selected);
    }

    [Fact]
    public void When_the_selected_direct_pair_stops_answering_the_link_falls_back_to_the_relay()
    {
        var schedule = new CheckSchedule { MaxAttempts = 2, InitialRto = Ms(100), ConsentInterval = TimeSpan.FromSeconds(1) };
        var list = new Checklist(true, [LocalHost, LocalRelay], schedule);
        list.AddRemoteCandidates([RemoteSrflx]);
        CheckEntry direct = list.Entries[0];
        CheckEntry relayed = list.Entries[1];
        list.Poll(Ms(0));
        list.Poll(Ms(20));
        list.OnSuccess(direct, Ms(5));
        list.OnSuccess(relayed, Ms(25));
        list.OnSuccess(list.Poll(Ms(30))!.Value.Entry, Ms(31));
        Assert.Same(direct, list.Selected);

        // Consent check on the direct pair goes unanswered (NAT mapping lost) ...
        TimeSpan t = Ms(31);
        CheckEntry? selectedAfter = null;
        for (int i = 0; i < 200 && selectedAfter is null; i++, t += Ms(50))
        {
            if (list.Poll(t) is { } p && ReferenceEquals(p.Entry, relayed))
            {
                list.OnSuccess(relayed, t);
                selectedAfter = list.Selected;
            }
        }

        Assert.Same(relayed, selectedAfter);
        Assert.Equal(CandidatePairState.Failed, direct.State);
    }

    [Fact]
    public void Pair_count_is_bounded()
    {
        var list = new Checklist(true, [LocalHost], new CheckSchedule { MaxPairs = 4 });
        list.AddRemoteCandidates(Enumerable.Range(1, 20).Select(i => Cand(CandidateType.Host, $"198.18.3.{i}:7000", i)));
        Assert.Equal(4, list.Entries.Count);
    }
}
