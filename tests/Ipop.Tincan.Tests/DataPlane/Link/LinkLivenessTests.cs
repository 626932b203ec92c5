using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane.Link;

public sealed class LinkLivenessTests
{
    private static readonly LinkTimings T = Timings.Default;

    [Fact]
    public void The_lower_key_rekeys_at_two_minutes_the_other_side_nine_seconds_later_and_both_stop_at_three()
    {
        var owner = new LinkLiveness(T, prefersInitiating: true);
        var other = new LinkLiveness(T, prefersInitiating: false);
        var activity = new LinkActivity();
        activity.OnSent(119_990, ContentKind.Keepalive);
        activity.OnReceived(119_990, ContentKind.Keepalive);

        Assert.False(owner.Evaluate(119_999, 0, activity).Rekey);
        Assert.True(owner.Evaluate(120_000, 0, activity).Rekey);
        Assert.False(other.Evaluate(120_000, 0, activity).Rekey);
        Assert.True(other.Evaluate(129_000, 0, activity).Rekey);

        LivenessVerdict expired = owner.Evaluate(180_000, 0, activity);
        Assert.True(expired.Expired);
        Assert.False(expired.Rekey || expired.Keepalive || expired.Broken);
        Assert.True(owner.IsExpired(180_000, 0));
        Assert.False(owner.IsExpired(179_999, 0));
    }

    [Fact]
    public void An_idle_link_sends_a_keepalive_every_ten_seconds()
    {
        var l = new LinkLiveness(T, prefersInitiating: true);
        var activity = new LinkActivity();
        activity.OnSent(1_000, ContentKind.Keepalive);
        Assert.False(l.Evaluate(10_999, 0, activity).Keepalive);
        Assert.True(l.Evaluate(11_000, 0, activity).Keepalive);
    }

    [Fact]
    public void Data_from_the_peer_with_nothing_to_send_back_gets_a_passive_keepalive_in_one_and_a_half_seconds()
    {
        var l = new LinkLiveness(T, prefersInitiating: true);
        var activity = new LinkActivity();
        activity.OnSent(1_000, ContentKind.Keepalive);
        activity.OnReceived(1_100, ContentKind.Packet);
        Assert.False(l.Evaluate(2_499, 0, activity).Keepalive);
        Assert.True(l.Evaluate(2_500, 0, activity).Keepalive);

        // Keepalives from the peer do not call for an answer.
        var quiet = new LinkActivity();
        quiet.OnSent(1_000, ContentKind.Keepalive);
        quiet.OnReceived(1_100, ContentKind.Keepalive);
        Assert.False(l.Evaluate(2_500, 0, quiet).Keepalive);
    }

    [Fact]
    public void Data_sent_into_silence_declares_the_path_broken_after_six_seconds()
    {
        var owner = new LinkLiveness(T, prefersInitiating: true);
        var other = new LinkLiveness(T, prefersInitiating: false);
        var activity = new LinkActivity();
        activity.OnReceived(10_000, ContentKind.Keepalive);
        activity.OnSent(10_500, ContentKind.Packet);
        activity.OnSent(12_000, ContentKind.Packet);
        Assert.Equal(10_500, activity.FirstUnansweredSend);

        Assert.False(owner.Evaluate(16_499, 0, activity).Broken);
        LivenessVerdict broken = owner.Evaluate(16_500, 0, activity);
        Assert.True(broken.Broken);
        Assert.Equal(6_500, broken.Silent);

        // The higher key is one handshake timeout later, so the two do not handshake at once.
        Assert.False(other.Evaluate(19_499, 0, activity).Broken);
        Assert.True(other.Evaluate(19_500, 0, activity).Broken);

        // Anything from the peer answers.
        activity.OnReceived(16_000, ContentKind.Keepalive);
        Assert.Equal(0, activity.FirstUnansweredSend);
        Assert.False(owner.Evaluate(16_500, 0, activity).Broken);
    }

    [Fact]
    public void A_dead_peer_is_detected_after_three_keepalives_and_a_handshake_timeout_of_silence()
    {
        var l = new LinkLiveness(T, prefersInitiating: true);
        var activity = new LinkActivity();

        // Only keepalives go out (nothing unanswered counts), and nothing comes back.
        for (long now = 0; now <= 40_000; now += 100)
        {
            LivenessVerdict v = l.Evaluate(now, 0, activity);
            if (v.Keepalive)
            {
                activity.OnSent(now, ContentKind.Keepalive);
            }

            if (v.Broken)
            {
                Assert.Equal(33_000, now);
                return;
            }
        }

        Assert.Fail("the dead peer was not detected");
    }
}
