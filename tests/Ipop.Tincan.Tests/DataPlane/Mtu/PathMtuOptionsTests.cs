using Ipop.Tincan.DataPlane.Mtu;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

public sealed class PathMtuOptionsTests
{
    [Fact]
    public void Bad_path_mtu_options_are_reported_with_key_and_value()
    {
        List<string> errors = TincanOptionsValidator.Collect(new TincanOptions
        {
            PathMtuMaxProbes = 0,
            PathMtuProbeTimeout = TimeSpan.FromMilliseconds(10),
            PathMtuRaiseInterval = TimeSpan.FromSeconds(1),
            PathMtuConfirmInterval = TimeSpan.FromHours(2),
        });

        Assert.Equal(4, errors.Count);
        Assert.Contains("Tincan:PathMtuMaxProbes must be between 1 and 10, got 0", errors);
        Assert.All(errors, e => Assert.StartsWith("Tincan:PathMtu", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Settings_follow_the_options_in_clock_ticks()
    {
        PathMtuSettings s = PathMtuSettings.From(new TincanOptions { PathMtuDiscovery = false, PathMtuProbeTimeout = TimeSpan.FromMilliseconds(250) }, frequency: 1000);
        Assert.False(s.Enabled);
        Assert.Equal(250, s.ProbeTimeout);
        Assert.Equal(3, s.MaxProbes);
        Assert.Equal(600_000, s.RaiseInterval);
        Assert.Equal(5_000, s.ConfirmInterval);
    }
}
