using System.Net;
using System.Net.NetworkInformation;
using Ipop.Tincan.Api.Internal;

namespace Ipop.Tincan.Api.Tests;

/// <summary>The built-in routers used when the host registers no <see cref="IControllerRouterFactory"/>.</summary>
public sealed class RouterTests
{
    private static readonly FakeTincan Node = new(1);
    private static readonly FakeLink B = new(Node, new PeerId("b"), new FakeTincan(2).LocalKey);
    private static readonly FakeLink C = new(Node, new PeerId("c"), new FakeTincan(3).LocalKey);

    [Fact]
    public void Longest_prefix_wins_for_ipv4_and_ipv6()
    {
        var r = new PrefixRouter();
        r.SetRoute(IPNetwork.Parse("198.19.0.0/16"), B);
        r.SetRoute(IPNetwork.Parse("198.19.7.0/24"), C);
        r.SetRoute(IPNetwork.Parse("198.19.7.128/25"), B);
        r.SetRoute(IPNetwork.Parse("2001:2::/48"), B);
        r.SetRoute(IPNetwork.Parse("2001:2:0:1::/64"), C);
        Assert.Same(B, r.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.1.1")).Link);
        Assert.Same(C, r.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.7.1")).Link);
        Assert.Same(B, r.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.7.200")).Link);
        Assert.Equal(RouteDecision.Drop, r.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.18.0.1")));
        Assert.Same(C, r.RouteOutbound(Packets.Ipv6("2001:2::1", "2001:2:0:1::9")).Link);
        Assert.Same(B, r.RouteOutbound(Packets.Ipv6("2001:2::1", "2001:2:0:2::9")).Link);
    }

    [Fact]
    public void Inbound_packets_must_come_from_an_address_routed_to_their_link()
    {
        var r = new PrefixRouter();
        r.SetRoute(IPNetwork.Parse("198.19.0.2/32"), B);
        r.SetRoute(IPNetwork.Parse("198.19.0.3/32"), C);
        Assert.True(r.AcceptInbound(B, Packets.Ipv4("198.19.0.2", "198.19.0.1")));
        Assert.False(r.AcceptInbound(B, Packets.Ipv4("198.19.0.3", "198.19.0.1")));
        Assert.False(r.AcceptInbound(B, Packets.Ipv4("198.19.0.9", "198.19.0.1")));
    }

    [Fact]
    public void Truncated_or_unknown_packets_are_dropped()
    {
        var r = new PrefixRouter();
        r.SetRoute(IPNetwork.Parse("0.0.0.0/0"), B);
        Assert.Equal(RouteDecision.Drop, r.RouteOutbound([]));
        Assert.Equal(RouteDecision.Drop, r.RouteOutbound(new byte[19] { 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }));
        Assert.Equal(RouteDecision.Drop, r.RouteOutbound(new byte[40]));
        Assert.False(r.AcceptInbound(B, new byte[39] { 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }));
    }

    [Fact]
    public void Removing_a_prefix_or_a_link_removes_exactly_those_routes()
    {
        var r = new PrefixRouter();
        r.SetRoute(IPNetwork.Parse("198.19.0.2/32"), B);
        r.SetRoute(IPNetwork.Parse("198.19.0.3/32"), C);
        r.SetRoute(IPNetwork.Parse("198.19.1.0/24"), B);
        Assert.True(r.RemoveRoute(IPNetwork.Parse("198.19.0.2/32")));
        Assert.False(r.RemoveRoute(IPNetwork.Parse("198.19.0.2/32")));
        r.RemoveRoutes(B);
        Assert.Equal(RouteDecision.Drop, r.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.1.1")));
        Assert.Same(C, r.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")).Link);
    }

    [Fact]
    public void Switch_floods_broadcast_multicast_and_unknown_unicast()
    {
        var r = new MacRouter();
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(Packets.Ethernet([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [2, 0, 0, 0, 0, 1])).Action);
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(Packets.Ethernet([0x01, 0x00, 0x5e, 0, 0, 1], [2, 0, 0, 0, 0, 1])).Action);
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(Packets.Ethernet([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])).Action);
        Assert.Equal(RouteDecision.Drop, r.RouteOutbound(new byte[13]));
    }

    [Fact]
    public void Switch_learns_source_addresses_and_follows_a_station_that_moved()
    {
        var r = new MacRouter();
        (FakeLink b, FakeLink c) = ConnectedLinks();
        byte[] bMac = [2, 0, 0, 0, 0, 0xb];
        Assert.True(r.AcceptInbound(b, Packets.Ethernet([2, 0, 0, 0, 0, 1], bMac)));
        Assert.Same(b, r.RouteOutbound(Packets.Ethernet(bMac, [2, 0, 0, 0, 0, 1])).Link);

        // One frame on another link does not re-point a station its own link still carries (LearningSwitch.MoveHoldTime)...
        Assert.False(r.AcceptInbound(c, Packets.Ethernet([2, 0, 0, 0, 0, 1], bMac)));
        // ...but once that link is down, the station has moved.
        b.SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        Assert.True(r.AcceptInbound(c, Packets.Ethernet([2, 0, 0, 0, 0, 1], bMac)));
        Assert.Same(c, r.RouteOutbound(Packets.Ethernet(bMac, [2, 0, 0, 0, 0, 1])).Link);
        Assert.False(r.AcceptInbound(b, Packets.Ethernet([2, 0, 0, 0, 0, 1], [0x03, 0, 0, 0, 0, 1])));
        r.RemoveRoutes(c);
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(Packets.Ethernet(bMac, [2, 0, 0, 0, 0, 1])).Action);
    }

    [Fact]
    public void A_pinned_mac_cannot_be_claimed_by_another_link()
    {
        var r = new MacRouter();
        (FakeLink b, FakeLink c) = ConnectedLinks();
        byte[] bMac = [2, 0, 0, 0, 0, 0xb];
        r.SetMacRoute(new PhysicalAddress(bMac), b);
        Assert.False(r.AcceptInbound(c, Packets.Ethernet([2, 0, 0, 0, 0, 1], bMac)));
        Assert.True(r.AcceptInbound(b, Packets.Ethernet([2, 0, 0, 0, 0, 1], bMac)));
        // Pinned with bridge semantics: stations behind the link are still learned from it.
        Assert.True(r.AcceptInbound(b, Packets.Ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0xbb])));
        Assert.Same(b, r.RouteOutbound(Packets.Ethernet(bMac, [2, 0, 0, 0, 0, 1])).Link);
        Assert.True(r.RemoveMacRoute(new PhysicalAddress(bMac)));
        Assert.False(r.RemoveMacRoute(new PhysicalAddress(bMac)));
        Assert.True(r.AcceptInbound(c, Packets.Ethernet([2, 0, 0, 0, 0, 1], bMac)));
    }

    [Fact]
    public void A_link_gets_one_pinned_mac_and_pinning_a_mac_to_another_link_moves_it()
    {
        var r = new MacRouter();
        (FakeLink b, FakeLink c) = ConnectedLinks();
        var first = new PhysicalAddress([2, 0, 0, 0, 0, 0xb]);
        r.SetMacRoute(first, b);
        r.SetMacRoute(first, b);

        ArgumentException e = Assert.Throws<ArgumentException>(() => r.SetMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xbc]), b));
        Assert.Equal("the link to 'b' has 02:00:00:00:00:0b pinned already, and the switch pins one MAC per link (stations behind it are learned); route.remove that route first.", e.Message);

        // Re-pinning to c unbinds it from b (the switch forgets b, and the router sets b's ring position again).
        r.SetRingPosition(b, 0x5000);
        r.SetMacRoute(first, c);
        Assert.Same(c, r.RouteOutbound(Packets.Ethernet([2, 0, 0, 0, 0, 0xb], [2, 0, 0, 0, 0, 1])).Link);
        Assert.False(r.AcceptInbound(b, Packets.Ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0xb])));
        r.SetMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xbc]), b);
        Assert.True(r.RemoveMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xbc])));
    }

    [Fact]
    public void A_members_mac_goes_to_its_next_hop_and_survives_the_switch_forgetting_that_link_for_a_pin()
    {
        var r = new MacRouter();
        (FakeLink b, FakeLink c) = ConnectedLinks();
        var carol = new PhysicalAddress([2, 0, 0, 0, 0, 0xc]);
        byte[] toCarol = Packets.Ethernet([2, 0, 0, 0, 0, 0xc], [2, 0, 0, 0, 0, 1]);
        r.SetRingPosition(0x1000);
        r.SetRingPosition(b, 0x5000);

        r.SetMacForwardingRoute(carol, b);
        Assert.Same(b, r.RouteOutbound(toCarol).Link);

        // Unpinning b's MAC makes the switch forget b, member routes included; the router sets them again.
        r.SetMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xb]), b);
        Assert.True(r.RemoveMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xb])));
        Assert.Same(b, r.RouteOutbound(toCarol).Link);

        r.SetMacForwardingRoute(carol, c);
        Assert.Same(c, r.RouteOutbound(toCarol).Link);
        Assert.True(r.RemoveMacForwardingRoute(carol));
        Assert.False(r.RemoveMacForwardingRoute(carol));
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(toCarol).Action);

        // Removing the next hop's routes removes the member routes through it, and a later unpin does not bring them back.
        r.SetMacForwardingRoute(carol, b);
        r.RemoveRoutes(b);
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(toCarol).Action);
        r.SetMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xb]), b);
        r.RemoveMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xb]));
        Assert.Equal(RouteAction.Flood, r.RouteOutbound(toCarol).Action);
        Assert.False(r.RemoveMacForwardingRoute(carol));
    }

    [Fact]
    public void The_switch_refuses_a_member_route_for_the_local_mac_or_a_group_address_and_says_which()
    {
        var r = new MacRouter();
        (FakeLink b, _) = ConnectedLinks();
        var local = new PhysicalAddress([2, 0, 0, 0, 0, 1]);
        r.Switch.SetLocal(local);

        Assert.Equal(
            "02:00:00:00:00:01 is this node's own MAC address: the switch delivers frames for it to the interface, so it cannot be routed through a next hop.",
            Assert.Throws<ArgumentException>(() => r.SetMacForwardingRoute(local, b)).Message);
        Assert.Equal(
            "01:00:5e:00:00:01 is a group (broadcast or multicast) address: the switch floods frames for it and never routes them through a next hop.",
            Assert.Throws<ArgumentException>(() => r.SetMacForwardingRoute(new PhysicalAddress([1, 0, 0x5e, 0, 0, 1]), b)).Message);
        Assert.False(r.RemoveMacForwardingRoute(local));
    }

    [Fact]
    public void Learning_is_bounded_against_random_source_floods()
    {
        var r = new MacRouter();
        (FakeLink b, _) = ConnectedLinks();
        for (int i = 0; i < LearningSwitch.DefaultMaxStations + 500; i++)
        {
            r.AcceptInbound(b, Packets.Ethernet([2, 0, 0, 0, 0, 1], [2, 1, (byte)(i >> 16), (byte)(i >> 8), (byte)i, 0]));
        }

        Assert.InRange(r.Switch.Count, 1, LearningSwitch.DefaultMaxStations);
        Assert.True(r.Switch.Evicted > 0);
    }

    [Fact]
    public void Each_router_refuses_the_other_kind_of_route()
    {
        Assert.Throws<NotSupportedException>(() => new PrefixRouter().SetMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 1]), B));
        Assert.Throws<NotSupportedException>(() => new MacRouter().SetRoute(IPNetwork.Parse("198.19.0.0/16"), B));
    }

    [Fact]
    public void The_switch_refuses_route_kinds_because_its_frames_cross_members_by_ring_position()
    {
        IControllerRouter r = new MacRouter();
        IPNetwork prefix = IPNetwork.Parse("198.19.0.3/32");
        Assert.Contains("frames cross members by ring position", Assert.Throws<NotSupportedException>(() => r.SetForwardingRoute(prefix, B)).Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => r.SetLocal(prefix));
        Assert.Throws<NotSupportedException>(() => r.SetUnreachable(prefix));
        Assert.Throws<NotSupportedException>(() => r.GetForwardedPackets(prefix));
    }

    [Fact]
    public void The_prefix_router_edits_the_table_it_hands_to_tincan()
    {
        var r = new PrefixRouter();
        r.SetForwardingRoute(IPNetwork.Parse("198.19.0.3/32"), B);
        r.SetLocal(IPNetwork.Parse("198.19.0.1/32"));
        r.SetUnreachable(IPNetwork.Parse("198.19.0.0/24"));
        Assert.Same(B, r.Table.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")).Link);
        Assert.Equal(RouteDecision.Unreachable, r.Table.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.9")));
        Assert.Equal(1, r.GetForwardedPackets(IPNetwork.Parse("198.19.0.3/32")));
        Assert.Null(r.GetForwardedPackets(IPNetwork.Parse("198.19.0.0/24")));
    }

    [Fact]
    public void Routing_a_packet_allocates_nothing()
    {
        var prefixes = new PrefixRouter();
        prefixes.SetRoute(IPNetwork.Parse("198.19.0.0/16"), B);
        prefixes.SetRoute(IPNetwork.Parse("198.19.0.3/32"), C);
        var macs = new MacRouter();
        (FakeLink b, FakeLink c) = ConnectedLinks();
        macs.SetMacRoute(new PhysicalAddress([2, 0, 0, 0, 0, 0xb]), b);
        byte[] ip = Packets.Ipv4("198.19.0.3", "198.19.4.4");
        byte[] frame = Packets.Ethernet([2, 0, 0, 0, 0, 0xb], [2, 0, 0, 0, 0, 1]);
        byte[] fromC = Packets.Ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0xc]);
        macs.AcceptInbound(c, fromC);
        int hits = 0;
        for (int warm = 0; warm < 2; warm++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                hits += prefixes.RouteOutbound(ip).Action == RouteAction.Unicast ? 1 : 0;
                hits += prefixes.AcceptInbound(C, ip) ? 1 : 0;
                hits += macs.RouteOutbound(frame).Action == RouteAction.Unicast ? 1 : 0;
                hits += macs.AcceptInbound(c, fromC) ? 1 : 0;
            }

            if (warm == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }

        Assert.Equal(80_000, hits);
    }

    /// <summary>Fresh connected links for the switch, which sends only to connected links and lets a station move off one.</summary>
    private static (FakeLink B, FakeLink C) ConnectedLinks()
    {
        var node = new FakeTincan(1);
        FakeLink b = new(node, new PeerId("b"), new FakeTincan(2).LocalKey);
        FakeLink c = new(node, new PeerId("c"), new FakeTincan(3).LocalKey);
        var connected = new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);
        b.SetStatus(connected);
        c.SetStatus(connected);
        return (b, c);
    }
}
