using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.Tests.DataPlane.Link;

public sealed class HandshakeScheduleTests
{
    private static readonly LinkTimings T = Timings.Default;

    [Fact]
    public void Lost_initiations_are_retried_early_then_with_a_doubling_backoff_and_then_given_up()
    {
        var s = new HandshakeSchedule(T, prefersInitiating: true);
        s.Begin();
        s.OnSent(0, relayHeadStart: false);
        var sentAt = new List<long> { 0 };
        long now = 0;
        HandshakeStep last = HandshakeStep.None;

        // Every response is lost: a 100 ms tick drives the schedule for two minutes of fake time.
        for (; now <= 120_000 && last != HandshakeStep.GiveUp; now += 100)
        {
            last = s.Tick(now, canSend: true);
            if (last == HandshakeStep.Retry)
            {
                s.OnSent(now, relayHeadStart: false);
                sentAt.Add(now);
            }
        }

        // Within the first attempt's wait, early retries from 250 ms, each wait half again as long (on the 100 ms
        // tick): five initiations in the first 2.2 s. Then the six counted attempts (3, 6, 12, 24 then capped at 24 s
        // apart) as without them, and the episode gives up after the last one's wait, at the same time as before.
        Assert.Equal([0, 300, 700, 1_300, 2_200, 3_000, 9_000, 21_000, 45_000, 69_000], sentAt);
        Assert.Equal(HandshakeStep.GiveUp, last);
        Assert.Equal(93_000, now - 100);
        Assert.True(s.GivenUp);
        Assert.False(s.InFlight);
        Assert.Equal(10, s.Attempts);
        Assert.False(s.EverConnected);
        Assert.False(s.CanBegin);
        Assert.Equal(HandshakeStep.None, s.Tick(now + 100_000, canSend: true));
    }

    [Fact]
    public void A_response_after_a_lost_first_attempt_completes_the_episode()
    {
        var s = new HandshakeSchedule(T, prefersInitiating: true);
        s.Begin();
        s.OnSent(0, relayHeadStart: false);
        Assert.Equal(HandshakeStep.None, s.Tick(200, canSend: true));
        Assert.Equal(HandshakeStep.Retry, s.Tick(250, canSend: true));
        s.OnSent(250, relayHeadStart: false);
        s.OnCompleted();
        Assert.True(s.CanBegin);
        Assert.True(s.EverConnected);
        Assert.Equal(0, s.Attempts);
        Assert.Equal(HandshakeStep.None, s.Tick(60_000, canSend: true));
    }

    [Fact]
    public void Relayed_copies_follow_the_direct_head_start_and_the_first_retry_carries_them()
    {
        var s = new HandshakeSchedule(T, prefersInitiating: true);
        s.Begin();
        s.OnSent(1_000, relayHeadStart: true);
        Assert.Equal(HandshakeStep.None, s.Tick(1_200, canSend: true));

        // With the defaults the head start ends when the first retry is due: the retry goes to every path, the relay
        // included, so the first attempt's relayed copies are not sent as well.
        Assert.Equal(T.RelayHeadStart, T.FirstRetry);
        Assert.Equal(HandshakeStep.Retry, s.Tick(1_250, canSend: true));
        s.OnSent(1_250, relayHeadStart: false);
        Assert.Equal(0, s.RelaySprayAt);
        Assert.Equal(HandshakeStep.None, s.Tick(1_300, canSend: true));
    }

    [Fact]
    public void After_giving_way_to_the_peers_initiation_the_link_begins_again_unless_the_peers_session_is_confirmed()
    {
        // Our response to the peer's initiation may be lost, and the peer's own retry may be a long backoff away.
        var s = new HandshakeSchedule(T, prefersInitiating: false);
        s.Begin();
        s.OnSent(0, relayHeadStart: false);
        s.OnPeerInitiated();
        s.OnAbandoned();
        Assert.Equal(HandshakeStep.None, s.Tick(100, canSend: true));
        Assert.True(s.Deferred);
        Assert.Equal(HandshakeStep.None, s.Tick(500, canSend: true));
        Assert.Equal(HandshakeStep.BeginDeferred, s.Tick(600, canSend: true));

        // The peer's session confirmed (its data arrived): nothing to begin.
        var t = new HandshakeSchedule(T, prefersInitiating: false);
        t.Begin();
        t.OnSent(0, relayHeadStart: false);
        t.OnPeerInitiated();
        t.OnAbandoned();
        Assert.Equal(HandshakeStep.None, t.Tick(100, canSend: true));
        t.OnHeard(connected: true);
        Assert.False(t.Deferred);
        Assert.Equal(HandshakeStep.None, t.Tick(10_000, canSend: true));
    }

    [Fact]
    public void The_higher_key_waits_one_handshake_timeout_for_the_peer_to_begin()
    {
        var s = new HandshakeSchedule(T, prefersInitiating: false);
        Assert.False(s.Request(10_000));
        Assert.True(s.Deferred);
        Assert.False(s.Request(11_000));
        Assert.Equal(13_000, s.NotBefore);
        Assert.Equal(HandshakeStep.None, s.Tick(12_900, canSend: true));
        Assert.Equal(HandshakeStep.None, s.Tick(13_000, canSend: false));
        Assert.Equal(HandshakeStep.BeginDeferred, s.Tick(13_000, canSend: true));
        Assert.False(s.Deferred);
    }

    [Fact]
    public void The_peers_initiation_cancels_a_deferred_handshake()
    {
        var s = new HandshakeSchedule(T, prefersInitiating: false);
        Assert.False(s.Request(0));
        s.OnPeerInitiated();
        Assert.Equal(HandshakeStep.None, s.Tick(10_000, canSend: true));
    }

    [Fact]
    public void The_lower_key_begins_at_once()
    {
        var s = new HandshakeSchedule(T, prefersInitiating: true);
        Assert.True(s.Request(0));
        Assert.False(s.Deferred);
    }

    [Fact]
    public void A_link_that_gave_up_tries_again_when_the_peer_is_heard_or_it_is_restarted()
    {
        var s = new HandshakeSchedule(new LinkTimings { Frequency = T.Frequency, HandshakeTimeout = T.HandshakeTimeout, HandshakeAttempts = 1, RekeyAfterTime = T.RekeyAfterTime, FallbackRekeyAfter = T.FallbackRekeyAfter, RejectAfter = T.RejectAfter, RekeyAfterMessages = T.RekeyAfterMessages, Keepalive = T.Keepalive, PassiveKeepalive = T.PassiveKeepalive, DeadPeer = T.DeadPeer, Unanswered = T.Unanswered, DirectSilence = T.DirectSilence, IceWait = T.IceWait }, prefersInitiating: true);
        s.Begin();
        s.OnSent(0, relayHeadStart: false);
        Assert.Equal(HandshakeStep.GiveUp, s.Tick(3_000, canSend: true));
        Assert.False(s.CanBegin);
        s.OnHeard(connected: false);
        Assert.True(s.CanBegin);
        Assert.False(s.EverConnected);

        s.Begin();
        s.OnSent(4_000, relayHeadStart: false);
        Assert.Equal(HandshakeStep.GiveUp, s.Tick(7_000, canSend: true));
        s.Restart();
        Assert.True(s.CanBegin);
    }
}
