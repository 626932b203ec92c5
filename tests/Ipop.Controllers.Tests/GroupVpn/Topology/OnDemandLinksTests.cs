using Ipop.Controllers.GroupVpn.Topology;

namespace Ipop.Controllers.Tests.GroupVpn.Topology;

public sealed class OnDemandLinksTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void A_member_becomes_wanted_when_its_rate_reaches_the_threshold_within_one_second()
    {
        var links = new OnDemandLinks(packetsPerSecond: 10, idle: S(30), maxLinks: 4);
        Assert.False(links.Record(7, 6, S(0)));
        Assert.False(links.Record(7, 3, S(0.5)));
        Assert.True(links.Record(7, 1, S(0.9)));
        Assert.True(links.Contains(7));
        Assert.False(links.Record(7, 50, S(1)), "already wanted: reported once");
        Assert.Equal(1, links.Count);
    }

    [Fact]
    public void A_slow_trickle_never_crosses_the_threshold()
    {
        var links = new OnDemandLinks(10, S(30), 4);
        for (int i = 0; i < 100; i++)
        {
            Assert.False(links.Record(7, 9, S(i * 1.0)));
        }

        Assert.False(links.Contains(7));
    }

    [Fact]
    public void The_cap_holds_and_a_reaped_link_frees_a_place()
    {
        var links = new OnDemandLinks(1, S(10), 2);
        Assert.True(links.Record(1, 1, S(0)));
        Assert.True(links.Record(2, 1, S(5)));
        Assert.False(links.Record(3, 1, S(5)));
        Assert.Equal(1, links.RefusedAtCap);
        Assert.Equal(2, links.Count);

        Span<ulong> reaped = stackalloc ulong[4];
        Assert.Equal(0, links.Reap(S(9), reaped));
        Assert.Equal(1, links.Reap(S(10), reaped));
        Assert.Equal(1UL, reaped[0]);
        Assert.False(links.Contains(1));
        Assert.True(links.Record(3, 1, S(11)));
        Assert.Equal(2, links.Count);
    }

    [Fact]
    public void Removing_a_member_that_left_frees_its_place()
    {
        var links = new OnDemandLinks(1, S(10), 1);
        Assert.True(links.Record(1, 1, S(0)));
        links.Remove(1);
        Assert.Equal(0, links.Count);
        Assert.True(links.Record(2, 1, S(0)));
    }

    [Fact]
    public void Counting_a_known_member_allocates_nothing()
    {
        var links = new OnDemandLinks(1000, S(10), 4);
        for (int i = 0; i < 1000; i++)
        {
            links.Record(1, 1, S(0)); // warm up: the first calls may allocate in the runtime (tiering, on-stack replacement)
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            links.Record(1, 1, S(i * 0.001));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
