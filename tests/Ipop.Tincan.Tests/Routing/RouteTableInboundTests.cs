using System.Net;

using static Ipop.Tincan.Tests.Routing.RoutingPackets;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>The inbound decision of <see cref="RouteTable"/>: deliver, forward or drop (issue 16, docs/routing.md).</summary>
public sealed class RouteTableInboundTests
{
    private readonly FakeLink _a = new("a");
    private readonly FakeLink _b = new("b");
    private readonly FakeLink _c = new("c");

    /// <summary>B's table in a chain A–B–C plus a member D behind C: A and C direct, D through C.</summary>
    private RouteTable MiddleOfChain(bool local = true)
    {
        var table = new RouteTable();
        table.SetUnreachable(IPNetwork.Parse("198.19.0.0/24"));
        table.SetUnreachable(IPNetwork.Parse("2001:2::/64"));
        if (local)
        {
            table.SetLocal(IPNetwork.Parse("198.19.0.2/32"));
            table.SetLocal(IPNetwork.Parse("2001:2::2/128"));
        }

        table.SetRoute(IPNetwork.Parse("198.19.0.1/32"), _a);
        table.SetRoute(IPNetwork.Parse("198.19.0.3/32"), _c);
        table.SetRoute(IPNetwork.Parse("2001:2::1/128"), _a);
        table.SetRoute(IPNetwork.Parse("2001:2::3/128"), _c);
        table.SetForwardingRoute(IPNetwork.Parse("198.19.0.4/32"), _c);
        table.SetForwardingRoute(IPNetwork.Parse("2001:2::4/128"), _c);
        return table;
    }

    [Fact]
    public void A_packet_for_this_node_is_delivered_and_one_for_a_routed_member_is_forwarded_to_its_link()
    {
        RouteTable table = MiddleOfChain();
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.2")));
        Assert.Equal(InboundDecision.Forward(_c), table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.3")));
        Assert.Equal(InboundDecision.Forward(_c), table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.4")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv6("2001:2::1", "2001:2::2")));
        Assert.Equal(InboundDecision.Forward(_c), table.RouteInbound(_a, Ipv6("2001:2::1", "2001:2::4")));
        Assert.Equal(InboundDecision.Forward(_a), table.RouteInbound(_c, Ipv4("198.19.0.4", "198.19.0.1")));
    }

    [Fact]
    public void A_source_with_a_direct_route_must_come_over_its_link_and_one_behind_a_forwarding_route_over_any()
    {
        RouteTable table = MiddleOfChain();
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Spoofed), table.RouteInbound(_a, Ipv4("198.19.0.3", "198.19.0.2")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_c, Ipv4("198.19.0.4", "198.19.0.2")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.4", "198.19.0.2")));
        Assert.True(table.AcceptInbound(_a, Ipv4("198.19.0.4", "198.19.0.2")));
        Assert.False(table.AcceptInbound(_a, Ipv4("198.19.0.3", "198.19.0.2")));
    }

    [Fact]
    public void A_source_that_is_no_member_or_this_node_itself_is_spoofed_and_never_forwarded()
    {
        RouteTable table = MiddleOfChain();
        InboundDecision spoofed = InboundDecision.Drop(InboundDropReason.Spoofed);
        Assert.Equal(spoofed, table.RouteInbound(_a, Ipv4("198.19.0.77", "198.19.0.3")));   // in the overlay, no member
        Assert.Equal(spoofed, table.RouteInbound(_a, Ipv4("198.18.0.1", "198.19.0.3")));    // outside the overlay
        Assert.Equal(spoofed, table.RouteInbound(_a, Ipv4("198.19.0.2", "198.19.0.3")));    // our own address
        Assert.Equal(spoofed, table.RouteInbound(_a, Ipv6("fe80::1", "2001:2::3")));
        Assert.Equal(spoofed, table.RouteInbound(_a, [0x45, 0, 0]));
        Assert.Equal(spoofed, table.RouteInbound(_a, []));
    }

    [Fact]
    public void Destinations_that_are_neither_local_nor_routed_are_answered_inside_the_overlay_and_left_to_the_kernel_outside()
    {
        RouteTable table = MiddleOfChain();
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Unreachable), table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.9")));
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Unreachable), table.RouteInbound(_a, Ipv6("2001:2::1", "2001:2::9")));

        // Outside the overlay (an exit node's traffic): the kernel's routing and forwarding policy decides, as before.
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "198.18.9.9")));

        // Multicast and broadcast are never forwarded; they stay this node's business as before forwarding existed.
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "224.0.0.251")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "255.255.255.255")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv6("2001:2::1", "ff02::fb")));
    }

    [Fact]
    public void Without_local_prefixes_nothing_is_forwarded_and_every_accepted_packet_is_delivered_as_before()
    {
        RouteTable table = MiddleOfChain(local: false);
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.2")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.9")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "198.18.9.9")));
        Assert.Equal(InboundDecision.Deliver, table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.3")));
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Spoofed), table.RouteInbound(_a, Ipv4("198.19.0.3", "198.19.0.2")));

        // A spoke whose hub's route covers the whole subnet, its own address included (WireGuard's hub-and-spoke): the
        // hub's packets to the spoke are the spoke's, not a loop back to the hub.
        var spoke = new RouteTable();
        spoke.SetRoute(IPNetwork.Parse("198.19.0.0/24"), _a);
        Assert.Equal(InboundDecision.Deliver, spoke.RouteInbound(_a, Ipv4("198.19.0.3", "198.19.0.5")));
    }

    [Fact]
    public void A_route_back_to_the_arrival_link_is_returned_as_such_for_the_data_plane_to_refuse()
    {
        RouteTable table = MiddleOfChain();
        table.SetForwardingRoute(IPNetwork.Parse("198.19.0.3/32"), _a);
        Assert.Equal(InboundDecision.Forward(_a), table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.3")));
    }

    [Fact]
    public void Local_prefixes_are_not_routes_and_outbound_packets_to_them_are_dropped()
    {
        RouteTable table = MiddleOfChain();
        Assert.Equal(8, table.Count); // 2 unreachable, 4 direct, 2 forwarding; the 2 local prefixes are not routes
        Assert.DoesNotContain(table.GetRoutes(), r => r.Prefix == IPNetwork.Parse("198.19.0.2/32"));
        Assert.Contains(table.GetRoutes(), r => r.Prefix == IPNetwork.Parse("198.19.0.4/32") && ReferenceEquals(r.Link, _c));
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(Ipv4("198.19.0.2", "198.19.0.2")).Action);
        Assert.Same(_c, table.RouteOutbound(Ipv4("198.19.0.2", "198.19.0.4")).Link);
        Assert.Null(table.Lookup(IPAddress.Parse("198.19.0.2")));

        Span<byte> local = stackalloc byte[16];
        Assert.True(table.TryGetLocalAddress(4, local));
        Assert.Equal(IPAddress.Parse("198.19.0.2"), new IPAddress(local[..4]));
        Assert.True(table.TryGetLocalAddress(6, local));
        Assert.Equal(IPAddress.Parse("2001:2::2"), new IPAddress(local));

        Assert.True(table.RemoveRoute(IPNetwork.Parse("198.19.0.2/32")));
        Assert.False(table.TryGetLocalAddress(4, local));
    }

    [Fact]
    public void Removing_a_next_hop_link_removes_the_forwarding_routes_through_it()
    {
        RouteTable table = MiddleOfChain();
        Assert.Equal(4, table.RemoveRoutes(_c));
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Unreachable), table.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.4")));
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Spoofed), table.RouteInbound(_b, Ipv4("198.19.0.4", "198.19.0.2")));
    }

    [Fact]
    public void A_router_written_before_forwarding_keeps_its_accept_or_refuse_contract()
    {
        IPacketRouter legacy = new AcceptOnly(accept: true);
        Assert.Equal(InboundDecision.Deliver, legacy.RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.3")));
        Assert.Equal(InboundDecision.Drop(InboundDropReason.Spoofed), ((IPacketRouter)new AcceptOnly(accept: false)).RouteInbound(_a, Ipv4("198.19.0.1", "198.19.0.3")));
    }

    private sealed class AcceptOnly(bool accept) : IPacketRouter
    {
        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => accept;
    }
}
