using System.Net;

using static Ipop.Tincan.Tests.Routing.RoutingPackets;

namespace Ipop.Tincan.Tests.Routing;

public sealed class RouteTableTests
{
    [Fact]
    public void Longest_prefix_wins_for_ipv4_and_ipv6()
    {
        var table = new RouteTable();
        var wide = new FakeLink("wide");
        var narrow = new FakeLink("narrow");
        table.SetRoute(IPNetwork.Parse("198.19.0.0/16"), wide);
        table.SetRoute(IPNetwork.Parse("198.19.5.0/24"), narrow);
        table.SetRoute(IPNetwork.Parse("2001:2::/48"), wide);
        table.SetRoute(IPNetwork.Parse("2001:2:0:5::/64"), narrow);

        Assert.Same(narrow, table.RouteOutbound(Ipv4("198.19.0.1", "198.19.5.9")).Link);
        Assert.Same(wide, table.RouteOutbound(Ipv4("198.19.0.1", "198.19.6.9")).Link);
        Assert.Same(narrow, table.RouteOutbound(Ipv6("2001:2::1", "2001:2:0:5::9")).Link);
        Assert.Same(wide, table.RouteOutbound(Ipv6("2001:2::1", "2001:2:0:6::9")).Link);
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(Ipv4("198.19.0.1", "198.18.0.1")).Action);
    }

    [Fact]
    public void Inbound_packets_must_come_from_the_link_that_owns_the_source()
    {
        var table = new RouteTable();
        var a = new FakeLink("a");
        var b = new FakeLink("b");
        table.SetRoute(IPNetwork.Parse("198.19.0.2/32"), a);
        table.SetRoute(IPNetwork.Parse("198.19.0.3/32"), b);

        Assert.True(table.AcceptInbound(a, Ipv4("198.19.0.2", "198.19.0.1")));
        Assert.False(table.AcceptInbound(a, Ipv4("198.19.0.3", "198.19.0.1")));
        Assert.False(table.AcceptInbound(a, Ipv4("198.19.9.9", "198.19.0.1")));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x45, 0, 0 })]
    [InlineData(new byte[] { 0x70, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void Truncated_or_unknown_packets_are_dropped(byte[] packet)
    {
        var table = new RouteTable();
        table.SetRoute(IPNetwork.Parse("0.0.0.0/0"), new FakeLink("any"));
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(packet).Action);
    }

    [Fact]
    public void Removing_a_link_removes_all_its_routes_and_replacing_a_prefix_keeps_one()
    {
        var table = new RouteTable();
        var a = new FakeLink("a");
        var b = new FakeLink("b");
        table.SetRoute(IPNetwork.Parse("198.19.0.2/32"), a);
        table.SetRoute(IPNetwork.Parse("2001:2::2/128"), a);
        table.SetRoute(IPNetwork.Parse("198.19.0.3/32"), a);
        table.SetRoute(IPNetwork.Parse("198.19.0.3/32"), b);
        Assert.Equal(3, table.Count);
        Assert.Same(b, table.Lookup(IPAddress.Parse("198.19.0.3")));
        Assert.Equal(2, table.RemoveRoutes(a));
        Assert.Null(table.Lookup(IPAddress.Parse("198.19.0.2")));
        Assert.True(table.RemoveRoute(IPNetwork.Parse("198.19.0.3/32")));
        Assert.False(table.RemoveRoute(IPNetwork.Parse("198.19.0.3/32")));
    }

    [Fact]
    public void Default_route_matches_everything_of_its_family()
    {
        var table = new RouteTable();
        var v4 = new FakeLink("v4");
        table.SetRoute(IPNetwork.Parse("0.0.0.0/0"), v4);
        Assert.Same(v4, table.Lookup(IPAddress.Parse("198.18.77.1")));
        Assert.Null(table.Lookup(IPAddress.Parse("2001:2::1")));
    }

    [Fact]
    public void Addresses_in_an_unreachable_prefix_without_a_link_are_answered_not_silently_dropped()
    {
        var table = new RouteTable();
        var member = new FakeLink("member");
        table.SetUnreachable(IPNetwork.Parse("198.19.0.0/16"));
        table.SetRoute(IPNetwork.Parse("198.19.0.2/32"), member);
        Assert.Same(member, table.RouteOutbound(Ipv4("198.19.0.1", "198.19.0.2")).Link);
        Assert.Equal(RouteAction.Unreachable, table.RouteOutbound(Ipv4("198.19.0.1", "198.19.0.3")).Action);
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(Ipv4("198.19.0.1", "198.18.0.3")).Action);
        Assert.False(table.AcceptInbound(member, Ipv4("198.19.0.3", "198.19.0.1")));
        Assert.Null(table.Lookup(IPAddress.Parse("198.19.0.3")));
    }

    [Fact]
    public void Packets_out_through_a_forwarding_route_are_counted_across_a_change_of_next_hop_and_direct_routes_are_not()
    {
        var table = new RouteTable();
        var hop = new FakeLink("hop");
        var other = new FakeLink("other");
        IPNetwork far = IPNetwork.Parse("198.19.0.9/32");
        IPNetwork near = IPNetwork.Parse("198.19.0.2/32");
        table.SetForwardingRoute(far, hop);
        table.SetRoute(near, hop);
        for (int i = 0; i < 3; i++)
        {
            table.RouteOutbound(Ipv4("198.19.0.1", "198.19.0.9"));
            table.RouteOutbound(Ipv4("198.19.0.1", "198.19.0.2"));
        }

        Assert.Equal(3, table.GetForwardedPackets(far));
        table.SetForwardingRoute(far, other);
        table.RouteOutbound(Ipv4("198.19.0.1", "198.19.0.9"));
        Assert.Equal(4, table.GetForwardedPackets(far));
        Assert.Null(table.GetForwardedPackets(near));
        Assert.Null(table.GetForwardedPackets(IPNetwork.Parse("198.19.0.7/32")));
        table.SetRoute(far, other); // a direct link now: the forwarding count is gone with the forwarding route
        Assert.Null(table.GetForwardedPackets(far));
    }
}
