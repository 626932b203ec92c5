using Ipop.Tincan.DataPlane.Mtu;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>The DPLPMTUD state machine on a fake clock (1 tick = 1 ms), against a simulated path.</summary>
public sealed class PathMtuProberTests
{
    private const int Base = 1140;   // 1200 on IPv4 less 60 bytes of tunnel overhead
    private const int Max = 1438;    // the default tunnel MTU plus the frame allowance
    private const long TickStep = 100; // the link's tick
    private const long Rtt = 5;

    private static PathMtuSettings Settings(bool enabled = true) => new()
    {
        Enabled = enabled,
        ProbeTimeout = 1000,
        MaxProbes = 3,
        RaiseInterval = 600_000,
        ConfirmInterval = 5000,
    };

    /// <summary>A path that carries payloads up to <see cref="Limit"/> (0: nothing at all) with a fixed round trip.</summary>
    private sealed class SimulatedPath(PathMtuProber prober)
    {
        private readonly List<(long At, uint Round, int Size)> _acks = [];
        private readonly int[] _sizes = new int[8];

        public int Limit { get; set; } = Max;

        public long Now { get; set; }

        public int ProbesSent { get; private set; }

        public bool FullSizeTraffic { get; set; }

        /// <summary>Runs the link's 100 ms tick for <paramref name="duration"/> ms, delivering acknowledgments as they arrive.</summary>
        public void Run(long duration, Func<bool>? until = null)
        {
            long end = Now + duration;
            while (Now < end && (until is null || !until()))
            {
                if (FullSizeTraffic)
                {
                    prober.OnFullSizeTraffic();
                }

                Send(prober.Tick(Now, _sizes));
                long next = Now + TickStep;
                while (_acks.Count > 0 && _acks[0].At <= next)
                {
                    (long at, uint round, int size) = _acks[0];
                    _acks.RemoveAt(0);
                    Now = at;
                    if (prober.OnAck(at, round, size))
                    {
                        // As the link does: the next round goes out at once.
                        Send(prober.Tick(at, _sizes));
                    }
                }

                Now = next;
            }
        }

        private void Send(int count)
        {
            for (int i = 0; i < count; i++)
            {
                ProbesSent++;
                if (_sizes[i] <= Limit)
                {
                    _acks.Add((Now + Rtt, prober.RoundId, _sizes[i]));
                }
            }
        }
    }

    [Fact]
    public void An_unconstrained_path_is_confirmed_at_the_largest_size_in_one_round_trip()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober);
        path.Run(200);

        Assert.Equal(PathMtuState.SearchComplete, prober.State);
        Assert.Equal(Max, prober.Current);
        Assert.Equal(Rtt, prober.LastSearchTicks);
        Assert.Equal(2, path.ProbesSent); // the base and the largest size, nothing else
    }

    [Theory]
    [InlineData(1220)]
    [InlineData(1141)]
    [InlineData(1437)]
    [InlineData(1300)]
    public void A_smaller_path_is_found_exactly_within_a_few_probe_timeouts(int limit)
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober) { Limit = limit };
        path.Run(30_000, () => prober.State == PathMtuState.SearchComplete);

        Assert.Equal(PathMtuState.SearchComplete, prober.State);
        Assert.Equal(limit, prober.Current);
        // The first round, then rounds of 8 that narrow 298 bytes to 1: at most 5 timeouts of 1 s, plus the ticks.
        Assert.InRange(prober.LastSearchTicks, 1, 5_600);
        Assert.Equal(limit, prober.Limit);
    }

    [Fact]
    public void Until_the_first_round_ends_nothing_is_refused_but_the_confirmed_size_is_what_tcp_is_clamped_to()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        Assert.Equal(Base, prober.Current);
        Assert.Equal(Max, prober.Limit);

        var path = new SimulatedPath(prober) { Limit = 1220 };
        path.Run(1100); // the first round timed out: the largest size was lost while the base came back
        Assert.Equal(PathMtuState.Searching, prober.State);
        Assert.Equal(prober.Current, prober.Limit);
        Assert.InRange(prober.Current, Base, 1220);
    }

    [Fact]
    public void A_peer_that_never_answers_leaves_the_base_size_after_max_probes_rounds_and_no_more_probes_while_idle()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober) { Limit = 0 };
        path.Run(10_000);

        Assert.Equal(PathMtuState.Error, prober.State);
        Assert.Equal(Base, prober.Current);
        Assert.Equal(Base, prober.Limit);
        Assert.Equal(3 * 2, path.ProbesSent); // MAX_PROBES rounds of two

        // Idle: nothing more for an hour, past the raise timer.
        path.Run(3_600_000);
        Assert.Equal(6, path.ProbesSent);
    }

    [Fact]
    public void A_black_hole_after_the_search_drops_to_the_base_size_and_finds_the_new_size()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober);
        path.Run(200);
        Assert.Equal(Max, prober.Current);

        // The path shrinks; full-size packets keep flowing, so confirmations go out and are lost.
        path.Limit = 1220;
        path.FullSizeTraffic = true;
        long shrunkAt = path.Now;
        path.Run(60_000, () => prober.BlackHoles == 1 && prober.State == PathMtuState.SearchComplete);

        Assert.Equal(1, prober.BlackHoles);
        Assert.Equal(1220, prober.Current);
        // Confirm interval (5 s) + MAX_PROBES timeouts (3 s) + the new search (at most 5 s), with tick slack.
        Assert.InRange(path.Now - shrunkAt, 8_000, 15_000);
    }

    [Fact]
    public void An_idle_link_sends_no_confirmations_and_no_raises()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober) { Limit = 1220 };
        path.Run(30_000, () => prober.State == PathMtuState.SearchComplete);
        int sent = path.ProbesSent;

        path.Run(2 * 3_600_000);
        Assert.Equal(sent, path.ProbesSent);
        Assert.Equal(1220, prober.Current);
    }

    [Fact]
    public void The_raise_timer_finds_a_path_that_grew_while_traffic_flows()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober) { Limit = 1220 };
        path.Run(30_000, () => prober.State == PathMtuState.SearchComplete);

        path.Limit = Max;
        path.FullSizeTraffic = true;
        path.Run(590_000);
        Assert.Equal(1220, prober.Current); // confirmations only, before PMTU_RAISE_TIMER

        path.Run(20_000);
        Assert.Equal(Max, prober.Current);
        Assert.Equal(PathMtuState.SearchComplete, prober.State);
    }

    [Fact]
    public void A_random_loss_of_a_whole_round_is_retried_not_taken_as_a_smaller_path()
    {
        var prober = new PathMtuProber(Settings());
        prober.Reset(0, Base, Max);
        int[] sizes = new int[8];
        Assert.Equal(2, prober.Tick(0, sizes));
        uint lost = prober.RoundId;

        // Nothing comes back: the same round is sent again after the probe timeout.
        Assert.Equal(0, prober.Tick(900, sizes));
        Assert.Equal(2, prober.Tick(1000, sizes));
        Assert.Equal([Base, Max], sizes[..2]);
        Assert.NotEqual(lost, prober.RoundId);

        // A late answer to the lost round is ignored; the current round's answers count.
        Assert.False(prober.OnAck(1001, lost, Max));
        Assert.Equal(Base, prober.Current);
        Assert.False(prober.OnAck(1002, prober.RoundId, Base));
        Assert.True(prober.OnAck(1003, prober.RoundId, Max));
        Assert.Equal(Max, prober.Current);
    }

    [Fact]
    public void Disabled_probing_assumes_the_whole_size_and_sends_nothing()
    {
        var prober = new PathMtuProber(Settings(enabled: false));
        prober.Reset(0, Base, Max);
        var path = new SimulatedPath(prober) { Limit = 0 };
        path.Run(60_000);

        Assert.Equal(PathMtuState.Disabled, prober.State);
        Assert.Equal(Max, prober.Current);
        Assert.Equal(0, path.ProbesSent);
    }
}
