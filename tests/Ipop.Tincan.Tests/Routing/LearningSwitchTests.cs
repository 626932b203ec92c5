using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.Routing;

public sealed class LearningSwitchTests
{
    private static byte[] Frame(string dst, string src)
    {
        byte[] f = new byte[60];
        Convert.FromHexString(dst.Replace(":", string.Empty, StringComparison.Ordinal)).CopyTo(f, 0);
        Convert.FromHexString(src.Replace(":", string.Empty, StringComparison.Ordinal)).CopyTo(f, 6);
        f[12] = 0x08;
        return f;
    }

    [Fact]
    public void Unknown_unicast_and_broadcast_flood_then_learned_stations_get_unicast()
    {
        var sw = new LearningSwitch();
        var a = new FakeLink("a");
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Action);
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")).Action);
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("33:33:00:00:00:01", "02:00:00:00:00:01")).Action);

        Assert.True(sw.AcceptInbound(a, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a")));
        RouteDecision d = sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01"));
        Assert.Equal(RouteAction.Unicast, d.Action);
        Assert.Same(a, d.Link);
    }

    [Fact]
    public void Stations_age_out_and_move_between_links()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(30), time);
        var a = new FakeLink("a");
        var b = new FakeLink("b");
        sw.AcceptInbound(a, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a"));
        sw.AcceptInbound(b, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a"));
        Assert.Same(b, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Link);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Action);
        Assert.Equal(1, sw.Purge());
        Assert.Equal(0, sw.Count);
    }

    [Fact]
    public void Frames_with_a_group_source_address_or_too_short_are_refused()
    {
        var sw = new LearningSwitch();
        var a = new FakeLink("a");
        Assert.False(sw.AcceptInbound(a, Frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff")));
        Assert.False(sw.AcceptInbound(a, new byte[10]));
        Assert.Equal(RouteAction.Drop, sw.RouteOutbound(new byte[13]).Action);
        Assert.Equal(0, sw.Count);
    }

    [Fact]
    public void Stations_behind_a_disconnected_or_forgotten_link_are_flooded_again()
    {
        var sw = new LearningSwitch();
        var a = new FakeLink("a");
        sw.AcceptInbound(a, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a"));
        a.Status = new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable);
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Action);
        sw.Forget(a);
        Assert.Equal(0, sw.Count);
    }
}
