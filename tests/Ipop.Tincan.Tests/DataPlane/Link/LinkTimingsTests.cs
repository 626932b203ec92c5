using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.Tests.DataPlane.Link;

public sealed class LinkTimingsTests
{
    [Fact]
    public void Default_options_give_the_WireGuard_like_timers()
    {
        LinkTimings t = Timings.Default;
        Assert.Equal(3_000, t.HandshakeTimeout);
        Assert.Equal(120_000, t.RekeyAfterTime);
        Assert.Equal(129_000, t.FallbackRekeyAfter);
        Assert.Equal(180_000, t.RejectAfter);
        Assert.Equal(10_000, t.Keepalive);
        Assert.Equal(1_500, t.PassiveKeepalive);
        Assert.Equal(33_000, t.DeadPeer);
        Assert.Equal(6_000, t.Unanswered);
        Assert.Equal(13_000, t.DirectSilence);
        Assert.Equal(1_000, t.IceWait);
        Assert.Equal(250, t.RelayHeadStart);
        Assert.Equal(24_000, t.MaxBackoff);
    }
}
