using System.Net.NetworkInformation;
using static Ipop.Tincan.Tests.Routing.SwitchTestKit;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>Member routes: a member's announced MAC goes to the next hop the controller chose, whatever floods taught.</summary>
public sealed class LearningSwitchMemberRouteTests
{
    private const string Local = "02:00:00:00:00:01";
    private const string Alice = "02:00:00:00:00:0a";
    private const string Carol = "02:00:00:00:00:0c";
    private const string Behind = "02:00:00:00:00:99";
    private const string Broadcast = "ff:ff:ff:ff:ff:ff";

    [Fact]
    public void A_member_route_beats_the_path_a_flood_taught_and_frames_from_the_member_do_not_move_it()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob");
        var dave = new FakeLink("dave");

        // A flood copy from Carol came in over Dave first: the switch learned her behind Dave.
        Assert.True(sw.AcceptForwarded(dave, Frame(Broadcast, Carol)));
        Assert.Same(dave, sw.NextHop(Frame(Carol, Alice)));

        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));
        Assert.Equal(SwitchRoute.ThroughHop, sw.RouteFrame(Frame(Carol, Local), out ITincanLink? via));
        Assert.Same(bob, via);
        Assert.Same(bob, sw.NextHop(Frame(Carol, Alice)));

        // Her frames keep arriving over either link (paths are asymmetric): accepted, and the route stays.
        Assert.True(sw.AcceptForwarded(dave, Frame(Broadcast, Carol)));
        Assert.True(sw.AcceptForwarded(dave, Frame(Local, Carol), transit: false));
        Assert.Same(bob, sw.NextHop(Frame(Carol, Alice)));
        Assert.Equal(0, sw.Refused);
    }

    [Fact]
    public void A_connected_link_bound_to_the_member_wins_and_the_route_carries_the_frames_while_that_link_is_down()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob");
        var carol = new FakeLink("carol", LinkState.Connecting);
        Assert.True(sw.Bind(carol, Mac(Carol), bridge: false));
        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));

        Assert.Equal(SwitchRoute.ThroughHop, sw.RouteFrame(Frame(Carol, Local), out ITincanLink? via));
        Assert.Same(bob, via);

        carol.Status = new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);
        Assert.Equal(SwitchRoute.Direct, sw.RouteFrame(Frame(Carol, Local), out ITincanLink? direct));
        Assert.Same(carol, direct);
        Assert.Same(carol, sw.NextHop(Frame(Carol, Alice)));
    }

    [Fact]
    public void A_route_whose_next_hop_is_down_floods_and_one_removed_or_forgotten_with_its_link_is_gone()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob", LinkState.Failed);
        var eve = new FakeLink("eve");
        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(Frame(Carol, Local), out _));
        Assert.Null(sw.NextHop(Frame(Carol, Alice)));

        Assert.True(sw.SetMemberRoute(Mac(Carol), eve));
        Assert.True(sw.SetMemberRoute(Mac(Alice), eve));
        sw.Forget(eve);
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(Frame(Carol, Local), out _));
        Assert.False(sw.RemoveMemberRoute(Mac(Alice)));

        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));
        Assert.True(sw.RemoveMemberRoute(Mac(Carol)));
        Assert.False(sw.RemoveMemberRoute(Mac(Carol)));
    }

    [Fact]
    public void The_local_mac_and_group_addresses_get_no_member_route()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob");

        Assert.False(sw.SetMemberRoute(Mac(Local), bob));
        Assert.False(sw.SetMemberRoute(Mac("01:00:5e:00:00:01"), bob));
        Assert.Equal(SwitchRoute.Drop, sw.RouteFrame(Frame(Local, Alice), out _));
        Assert.Null(sw.NextHop(Frame(Local, Alice)));
    }

    [Fact]
    public void Stations_behind_a_bridge_are_still_learned_through_hops()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob");
        var dave = new FakeLink("dave");
        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));

        Assert.True(sw.AcceptForwarded(dave, Frame(Broadcast, Behind)));

        Assert.Equal(SwitchRoute.ThroughHop, sw.RouteFrame(Frame(Behind, Local), out ITincanLink? via));
        Assert.Same(dave, via);
    }

    [Fact]
    public void Frames_from_the_interface_through_a_member_route_are_counted_across_a_change_of_next_hop()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob");
        var dave = new FakeLink("dave");
        Assert.Null(sw.GetMemberRoutePackets(Mac(Carol)));
        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));

        for (int i = 0; i < 5; i++)
        {
            sw.RouteFrame(Frame(Carol, Local), out _);
        }

        sw.NextHop(Frame(Carol, Alice)); // passing a member's frame on is not this node's traffic towards Carol
        Assert.Equal(5, sw.GetMemberRoutePackets(Mac(Carol)));

        Assert.True(sw.SetMemberRoute(Mac(Carol), dave));
        sw.RouteFrame(Frame(Carol, Local), out _);
        Assert.Equal(6, sw.GetMemberRoutePackets(Mac(Carol)));

        Assert.True(sw.RemoveMemberRoute(Mac(Carol)));
        Assert.Null(sw.GetMemberRoutePackets(Mac(Carol)));
    }

    [Fact]
    public void Member_routes_do_not_allocate_per_frame()
    {
        LearningSwitch sw = StructuredSwitch(Local);
        var bob = new FakeLink("bob");
        Assert.True(sw.SetMemberRoute(Mac(Carol), bob));
        byte[] toCarol = Frame(Carol, Local);
        byte[] fromCarol = Frame(Local, Carol);
        sw.RouteFrame(toCarol, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            sw.RouteFrame(toCarol, out _);
            sw.NextHop(toCarol);
            sw.AcceptForwarded(bob, fromCarol);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
