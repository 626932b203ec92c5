using System.Net.NetworkInformation;
using Microsoft.Extensions.Time.Testing;
using static Ipop.Tincan.Tests.Routing.SwitchTestKit;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>The learning switch of a structured overlay: stations learned through hops, and who may send forwarded frames.</summary>
public sealed class LearningSwitchStructuredTests
{
    private const string Local = "02:00:00:00:00:01";
    private const string Alice = "02:00:00:00:00:0a";
    private const string Carol = "02:00:00:00:00:0c";
    private const string Broadcast = "ff:ff:ff:ff:ff:ff";

    [Fact]
    public void A_station_heard_through_a_hop_is_reached_through_that_link_as_a_forwarded_frame()
    {
        var sw = new LearningSwitch();
        sw.SetRingPosition(100);
        var bob = new FakeLink("bob");
        var alice = new FakeLink("alice");
        Assert.True(sw.Bind(alice, Mac(Alice), bridge: false));

        Assert.True(sw.AcceptForwarded(bob, Frame(Broadcast, Carol)));

        Assert.Equal(SwitchRoute.ThroughHop, sw.RouteFrame(Frame(Carol, Local), out ITincanLink? via));
        Assert.Same(bob, via);
        Assert.Equal(SwitchRoute.Direct, sw.RouteFrame(Frame(Alice, Local), out ITincanLink? direct));
        Assert.Same(alice, direct);
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(Frame(Broadcast, Local), out _));
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(Frame("02:00:00:00:00:99", Local), out _));

        // The public decision of IPacketRouter still names the link.
        Assert.Same(bob, sw.RouteOutbound(Frame(Carol, Local)).Link);
    }

    [Fact]
    public void A_forwarded_unicast_goes_on_to_the_link_its_destination_is_behind_or_is_delivered_here()
    {
        var sw = new LearningSwitch();
        sw.SetRingPosition(100);
        sw.SetLocal(Mac(Local));
        var bob = new FakeLink("bob");
        var dave = new FakeLink("dave", LinkState.Failed);
        sw.AcceptForwarded(bob, Frame(Broadcast, Carol));
        sw.AcceptForwarded(dave, Frame(Broadcast, "02:00:00:00:00:0d"));

        Assert.Same(bob, sw.NextHop(Frame(Carol, Alice)));
        Assert.Null(sw.NextHop(Frame(Local, Alice)));                  // ours
        Assert.Null(sw.NextHop(Frame("02:00:00:00:00:99", Alice)));    // unknown
        Assert.Null(sw.NextHop(Frame(Broadcast, Alice)));              // a group address travels only as a flood
        Assert.Null(sw.NextHop(Frame("02:00:00:00:00:0d", Alice)));    // behind a link that is down
    }

    [Fact]
    public void A_forwarded_frame_may_not_come_from_the_local_mac_a_group_address_or_a_neighbours_negotiated_mac()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time);
        sw.SetRingPosition(100);
        sw.SetLocal(Mac(Local));
        var alice = new FakeLink("alice");
        var bob = new FakeLink("bob");
        Assert.True(sw.Bind(alice, Mac(Alice), bridge: false));

        Assert.False(sw.AcceptForwarded(bob, Frame(Broadcast, Local)));
        Assert.False(sw.AcceptForwarded(bob, Frame(Alice, "01:00:5e:00:00:01")));
        Assert.False(sw.AcceptForwarded(bob, Frame(Broadcast, Alice)));   // a direct neighbour cannot be impersonated
        time.Advance(TimeSpan.FromHours(1));
        Assert.False(sw.AcceptForwarded(bob, Frame(Broadcast, Alice)));   // however long she is silent
        Assert.Equal(4, sw.Refused);

        // Alice's own flood copies carry her MAC over her link; a non-bridge neighbour may forward others' frames.
        Assert.True(sw.AcceptForwarded(alice, Frame(Broadcast, Alice)));
        Assert.True(sw.AcceptForwarded(alice, Frame(Broadcast, Carol)));
        Assert.Same(alice, sw.RouteOutbound(Frame(Alice, Local)).Link);
        Assert.Equal(SwitchRoute.Direct, sw.RouteFrame(Frame(Alice, Local), out _));
        Assert.Equal(4, sw.Refused);
    }

    [Fact]
    public void A_neighbours_negotiated_mac_comes_through_others_while_its_link_is_not_up()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time);
        sw.SetRingPosition(100);
        var alice = new FakeLink("alice", LinkState.Connecting);
        var bob = new FakeLink("bob");
        Assert.True(sw.Bind(alice, Mac(Alice), bridge: false));

        // Alice's link is stuck connecting (the lab saw one for 80 s while the other side no longer wanted it): she is
        // reached only through others, and refusing her frames there would cut her off. Delivered, not learned.
        Assert.True(sw.AcceptForwarded(bob, Frame(Broadcast, Alice)));
        Assert.True(sw.AcceptForwarded(bob, Frame(Local, Alice)));
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame(Alice, Local)).Action);
        Assert.Equal(0, sw.Refused);

        // Once her link is up, her MAC is hers to use on it alone again, except in a unicast we only pass on: a path
        // learned from floods may lead her frames for someone else through bob.
        alice.Status = new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);
        Assert.False(sw.AcceptForwarded(bob, Frame(Broadcast, Alice)));
        Assert.True(sw.AcceptForwarded(bob, Frame(Carol, Alice), transit: true));
        Assert.Same(alice, sw.RouteOutbound(Frame(Alice, Local)).Link);
        Assert.Equal(1, sw.Refused);
    }

    [Fact]
    public void A_station_on_our_side_cannot_be_claimed_by_a_forwarded_frame_until_it_ages_out()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time);
        sw.SetRingPosition(100);
        var bob = new FakeLink("bob");
        sw.RouteFrame(Frame(Broadcast, "02:00:00:00:c0:01"), out _); // a container behind our bridge

        Assert.False(sw.AcceptForwarded(bob, Frame(Broadcast, "02:00:00:00:c0:01")));
        time.Advance(TimeSpan.FromSeconds(301));
        Assert.True(sw.AcceptForwarded(bob, Frame(Broadcast, "02:00:00:00:c0:01")));
        Assert.Equal(SwitchRoute.ThroughHop, sw.RouteFrame(Frame("02:00:00:00:c0:01", Local), out ITincanLink? via));
        Assert.Same(bob, via);
    }

    [Fact]
    public void A_station_heard_through_a_hop_arrives_over_any_link_and_moves_once_silent_on_its_own()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time);
        sw.SetRingPosition(100);
        var bob = new FakeLink("bob");
        var dave = new FakeLink("dave");
        Assert.True(sw.AcceptForwarded(bob, Frame(Broadcast, Carol)));

        // Paths are asymmetric: Carol's frames over Dave are delivered, but one frame does not re-point her.
        Assert.True(sw.AcceptForwarded(dave, Frame(Local, Carol)));
        Assert.Same(bob, sw.NextHop(Frame(Carol, Local)));
        Assert.Equal(0, sw.Refused);

        time.Advance(sw.MoveHoldTime);
        Assert.True(sw.AcceptForwarded(dave, Frame(Local, Carol)));
        Assert.Same(dave, sw.NextHop(Frame(Carol, Local)));

        // Over Bob again, within the hold time of Dave: delivered, still through Dave.
        Assert.True(sw.AcceptForwarded(bob, Frame(Local, Carol)));
        Assert.Same(dave, sw.NextHop(Frame(Carol, Local)));
    }

    [Fact]
    public void A_plain_frame_from_the_link_a_station_was_heard_through_makes_it_direct_and_plain_frames_keep_their_rules()
    {
        var time = new FakeTimeProvider();
        var sw = new LearningSwitch(TimeSpan.FromSeconds(300), time);
        sw.SetRingPosition(100);
        var bob = new FakeLink("bob");
        var mallory = new FakeLink("mallory");
        sw.AcceptForwarded(bob, Frame(Broadcast, Carol));

        // A plain frame claiming a station another link was heard from just now is refused, as before.
        Assert.False(sw.AcceptInbound(mallory, Frame(Broadcast, Carol)));
        Assert.Equal(1, sw.Refused);

        Assert.True(sw.AcceptInbound(bob, Frame(Local, Carol)));
        Assert.Equal(SwitchRoute.Direct, sw.RouteFrame(Frame(Carol, Local), out ITincanLink? via));
        Assert.Same(bob, via);

        // ... and stays direct when its flood copies keep coming over the same link.
        Assert.True(sw.AcceptForwarded(bob, Frame(Broadcast, Carol)));
        Assert.Equal(SwitchRoute.Direct, sw.RouteFrame(Frame(Carol, Local), out _));
    }

    [Fact]
    public void Forget_drops_the_links_position_and_the_stations_heard_through_it()
    {
        var sw = new LearningSwitch();
        var bob = new FakeLink("bob");
        Assert.False(sw.TryGetRingPosition(out _));
        sw.SetRingPosition(ulong.MaxValue);
        sw.SetRingPosition(bob, 42);
        Assert.True(sw.TryGetRingPosition(out ulong self));
        Assert.Equal(ulong.MaxValue, self);
        Assert.True(sw.TryGetRingPosition(bob, out ulong position));
        Assert.Equal(42UL, position);
        sw.AcceptForwarded(bob, Frame(Broadcast, Carol));

        sw.Forget(bob);

        Assert.False(sw.TryGetRingPosition(bob, out _));
        Assert.Equal(SwitchRoute.Flood, sw.RouteFrame(Frame(Carol, Local), out _));
    }

    [Fact]
    public void Without_a_ring_position_the_switch_decides_as_before()
    {
        var sw = new LearningSwitch();
        var a = new FakeLink("a");
        sw.SetRingPosition(a, 7); // a position for a link alone makes no structured overlay
        Assert.False(sw.TryGetRingPosition(out _));
        Assert.Equal(RouteAction.Flood, sw.RouteOutbound(Frame(Broadcast, Local)).Action);
        Assert.True(sw.AcceptInbound(a, Frame(Local, Alice)));
        Assert.Equal(SwitchRoute.Direct, sw.RouteFrame(Frame(Alice, Local), out _));
        Assert.Same(a, sw.RouteOutbound(Frame(Alice, Local)).Link);
    }

    [Fact]
    public void Learning_through_hops_does_not_allocate_in_steady_state()
    {
        var sw = new LearningSwitch();
        sw.SetRingPosition(100);
        var bob = new FakeLink("bob");
        var dave = new FakeLink("dave");
        byte[] flood = Frame(Broadcast, Carol);
        byte[] asymmetric = Frame(Local, Carol);
        byte[] reply = Frame(Carol, Local);
        sw.AcceptForwarded(bob, flood);
        sw.RouteFrame(reply, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            sw.AcceptForwarded(bob, flood);
            sw.AcceptForwarded(dave, asymmetric);
            sw.RouteFrame(reply, out _);
            sw.NextHop(reply);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
