using System.Net.NetworkInformation;
using Microsoft.Extensions.Time.Testing;
using static Ipop.Tincan.Tests.Routing.SwitchTestKit;

namespace Ipop.Tincan.Tests.Routing;

public sealed class LearningSwitchTests
{
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
    public void Stations_age_out_and_move_to_another_link_only_after_falling_silent_on_theirs()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(30), time);
        var a = new FakeLink("a");
        var b = new FakeLink("b");
        Assert.True(sw.AcceptInbound(a, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a")));

        // One frame from b must not steal a station a is still using.
        Assert.False(sw.AcceptInbound(b, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a")));
        Assert.Same(a, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Link);
        Assert.Equal(1, sw.Refused);

        // Silent on a for the hold time: it moved.
        time.Advance(sw.MoveHoldTime);
        Assert.True(sw.AcceptInbound(b, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a")));
        Assert.Same(b, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Link);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Action);
        Assert.Equal(1, sw.Purge());
        Assert.Equal(1, sw.Count); // the station on our side that sent the frames
    }

    [Fact]
    public void A_negotiated_mac_is_never_re_pointed_and_a_bound_link_sends_only_from_its_own()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(30), time);
        var alice = new FakeLink("alice");
        var mallory = new FakeLink("mallory");
        Assert.True(sw.Bind(alice, PhysicalAddress.Parse("02-00-00-00-00-0A"), bridge: false));
        Assert.True(sw.Bind(mallory, PhysicalAddress.Parse("02-00-00-00-00-0B"), bridge: true));

        // Mallory sends with Alice's MAC: refused, however long Alice is silent; Alice's frames still pass.
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(sw.AcceptInbound(mallory, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")));
        Assert.Same(alice, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Link);
        Assert.True(sw.AcceptInbound(alice, Frame("02:00:00:00:00:01", "02:00:00:00:00:0a")));

        // Alice is not a bridge: nothing but her own MAC. Nor can anyone bind her MAC to another link.
        Assert.False(sw.AcceptInbound(alice, Frame("02:00:00:00:00:01", "02:00:00:00:00:0c")));
        Assert.False(sw.Bind(mallory, PhysicalAddress.Parse("02-00-00-00-00-0A"), bridge: true));
        Assert.Equal(2, sw.Refused);
    }

    [Fact]
    public void A_bridge_link_learns_stations_behind_it_but_never_the_local_mac_or_another_links()
    {
        var sw = new LearningSwitch();
        var bridge = new FakeLink("bridge");
        var other = new FakeLink("other");
        sw.SetLocal(PhysicalAddress.Parse("02-00-00-00-00-01"));
        sw.Bind(bridge, PhysicalAddress.Parse("02-00-00-00-00-0B"), bridge: true);
        Assert.True(sw.AcceptInbound(other, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0c")));

        Assert.True(sw.AcceptInbound(bridge, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:01:00")));
        Assert.Same(bridge, sw.RouteOutbound(Frame("02:00:00:00:01:00", "02:00:00:00:00:01")).Link);
        Assert.False(sw.AcceptInbound(bridge, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")));
        Assert.False(sw.AcceptInbound(bridge, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0c")));
        Assert.Equal(RouteAction.Drop, sw.RouteOutbound(Frame("02:00:00:00:00:01", "02:00:00:00:00:01")).Action);
    }

    [Fact]
    public void A_station_behind_our_own_bridge_cannot_be_claimed_by_a_link_until_it_ages_out()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time);
        var mallory = new FakeLink("mallory");

        // A container behind our bridge talks through our TAP: its MAC is ours.
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:c0:01")).Action);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.False(sw.AcceptInbound(mallory, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:c0:01")));
        Assert.Equal(RouteAction.Drop, sw.RouteOutbound(Frame("02:00:00:00:c0:01", "02:00:00:00:00:01")).Action);

        time.Advance(TimeSpan.FromSeconds(300));
        Assert.True(sw.AcceptInbound(mallory, Frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:c0:01")));
    }

    [Fact]
    public void Steady_state_switching_does_not_allocate()
    {
        var sw = new LearningSwitch();
        var a = new FakeLink("a");
        sw.Bind(a, PhysicalAddress.Parse("02-00-00-00-00-0A"), bridge: true);
        byte[] inbound = Frame("02:00:00:00:00:01", "02:00:00:00:00:0a");
        byte[] behind = Frame("02:00:00:00:00:01", "02:00:00:00:01:0a");
        byte[] outbound = Frame("02:00:00:00:00:0a", "02:00:00:00:00:01");
        sw.AcceptInbound(a, behind);
        sw.RouteOutbound(outbound);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            sw.AcceptInbound(a, inbound);
            sw.AcceptInbound(a, behind);
            sw.RouteOutbound(outbound);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void The_table_is_bounded_and_evicts_the_oldest_learned_stations_first()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time, maxStations: 16);
        var alice = new FakeLink("alice");
        var flooder = new FakeLink("flooder");
        sw.Bind(alice, PhysicalAddress.Parse("02-00-00-00-00-0A"), bridge: false);
        for (int i = 0; i < 1000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            sw.AcceptInbound(flooder, Frame("ff:ff:ff:ff:ff:ff", $"02:00:00:01:{i >> 8:x2}:{i & 0xff:x2}"));
        }

        Assert.InRange(sw.Count, 2, 17); // at most 16 learned, plus Alice's bound MAC
        Assert.True(sw.Evicted >= 1000 - 16, $"evicted {sw.Evicted}");
        Assert.Same(flooder, sw.RouteOutbound(Frame("02:00:00:01:03:e7", "02:00:00:00:00:01")).Link); // the newest stays
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame("02:00:00:01:00:00", "02:00:00:00:00:01")).Action); // the oldest went
        Assert.Same(alice, sw.RouteOutbound(Frame("02:00:00:00:00:0a", "02:00:00:00:00:01")).Link); // bound ones never
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
        Assert.Equal(1, sw.Count); // only the station on our side that sent the frames
    }
}
