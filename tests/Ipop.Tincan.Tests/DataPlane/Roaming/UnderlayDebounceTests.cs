using Ipop.Tincan.DataPlane.Roaming;

namespace Ipop.Tincan.Tests.DataPlane.Roaming;

public sealed class UnderlayDebounceTests
{
    [Fact]
    public void A_burst_of_changes_is_acted_on_once_after_it_settles()
    {
        var d = new UnderlayDebounce(quiet: 150, maxDelay: 1_000);
        Assert.Equal(150, d.OnChange(0));
        Assert.Equal(200, d.OnChange(50));
        Assert.False(d.TryFire(199));
        Assert.True(d.TryFire(200));
        Assert.False(d.TryFire(300));
        Assert.Equal(0, d.DueAt);
    }

    [Fact]
    public void A_flapping_interface_cannot_hold_recovery_back_past_the_maximum_delay()
    {
        var d = new UnderlayDebounce(quiet: 150, maxDelay: 1_000);
        long firedAt = -1;
        for (long now = 5_000; now < 7_000 && firedAt < 0; now += 100)
        {
            d.OnChange(now);
            firedAt = d.TryFire(now) ? now : -1;
        }

        Assert.Equal(6_000, firedAt);

        // The next burst starts its own clock.
        Assert.Equal(9_150, d.OnChange(9_000));
    }
}
