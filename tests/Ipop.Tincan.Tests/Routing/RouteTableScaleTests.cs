using System.Net;

using static Ipop.Tincan.Tests.Routing.RoutingPackets;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>
/// <see cref="RouteTable"/> at the size of a big structured group (issue 16): thousands of /32 and /128 routes held in a
/// hash table beside a few shorter prefixes, written one at a time as a controller does.
/// </summary>
public sealed class RouteTableScaleTests
{
    private const int Members = 1_000;

    private readonly FakeLink[] _hops = [new("h0"), new("h1"), new("h2"), new("h3")];

    [Fact]
    public void Longest_prefix_wins_across_host_routes_and_shorter_prefixes_for_ipv4_and_ipv6()
    {
        var table = new RouteTable();
        var subnet = new FakeLink("subnet");
        table.SetUnreachable(IPNetwork.Parse("198.18.0.0/15"));
        table.SetUnreachable(IPNetwork.Parse("2001:2::/48"));
        AddMembers(table, Members);

        // Set after the host routes it covers: order of writes must not matter, a /32 beats the /24 beats the /15.
        // Members 758 to 999 are in both (198.18.3.0 to .241, 2001:2::300 to ::3f1).
        table.SetRoute(IPNetwork.Parse("198.18.3.0/24"), subnet);
        table.SetRoute(IPNetwork.Parse("2001:2::300/120"), subnet);

        for (int m = 0; m < Members; m++)
        {
            Assert.Same(Hop(m), table.Lookup(V4(m)));
            Assert.Same(Hop(m), table.Lookup(V6(m)));
        }

        Assert.Same(subnet, table.Lookup(IPAddress.Parse("198.18.3.250")));
        Assert.Same(subnet, table.Lookup(IPAddress.Parse("2001:2::3fa")));
        Assert.Same(subnet, table.RouteOutbound(Ipv4("198.18.0.1", "198.18.3.242")).Link);
        Assert.Same(Hop(999), table.RouteOutbound(Ipv4("198.18.0.1", "198.18.3.241")).Link);
        Assert.Equal(RouteAction.Unreachable, table.RouteOutbound(Ipv4("198.18.0.1", "198.19.200.1")).Action);
        Assert.Equal(RouteAction.Unreachable, table.RouteOutbound(Ipv6("2001:2::1", "2001:2:0:1::1")).Action);
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(Ipv4("198.18.0.1", "10.0.0.1")).Action);
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(Ipv6("2001:2::1", "2001:3::1")).Action);
        Assert.Equal((2 * Members) + 4, table.Count);
    }

    [Fact]
    public void Removing_half_of_2000_routes_one_by_one_leaves_every_lookup_right()
    {
        var table = new RouteTable();
        table.SetUnreachable(IPNetwork.Parse("198.18.0.0/15"));
        table.SetUnreachable(IPNetwork.Parse("2001:2::/48"));
        AddMembers(table, Members);

        for (int m = 0; m < Members; m += 2)
        {
            Assert.True(table.RemoveRoute(new IPNetwork(V4(m), 32)));
            Assert.True(table.RemoveRoute(new IPNetwork(V6(m), 128)));
        }

        Assert.False(table.RemoveRoute(new IPNetwork(V4(0), 32)));
        Assert.Equal(Members + 2, table.Count);
        for (int m = 0; m < Members; m++)
        {
            bool kept = m % 2 == 1;
            Assert.Same(kept ? Hop(m) : null, table.Lookup(V4(m)));
            Assert.Same(kept ? Hop(m) : null, table.Lookup(V6(m)));
            Assert.Equal(kept ? RouteAction.Unicast : RouteAction.Unreachable, table.RouteOutbound(Ipv4("198.18.0.1", V4(m).ToString())).Action);
        }

        // Added back on another next hop: found again, and the ones that stayed are untouched.
        for (int m = 0; m < Members; m += 2)
        {
            table.SetForwardingRoute(new IPNetwork(V4(m), 32), _hops[0]);
            table.SetForwardingRoute(new IPNetwork(V6(m), 128), _hops[0]);
        }

        for (int m = 0; m < Members; m++)
        {
            Assert.Same(m % 2 == 0 ? _hops[0] : Hop(m), table.Lookup(V4(m)));
            Assert.Same(m % 2 == 0 ? _hops[0] : Hop(m), table.Lookup(V6(m)));
        }

        Assert.Equal((2 * Members) + 2, table.Count);
    }

    [Fact]
    public void Removing_a_next_hop_at_scale_removes_exactly_its_routes_and_the_source_check_follows()
    {
        var table = new RouteTable();
        table.SetUnreachable(IPNetwork.Parse("198.18.0.0/15"));
        table.SetLocal(new IPNetwork(IPAddress.Parse("198.18.0.1"), 32));
        AddMembers(table, Members);
        table.SetRoute(IPNetwork.Parse("198.18.200.0/24"), _hops[1]);

        Assert.Equal((Members / _hops.Length * 2) + 1, table.RemoveRoutes(_hops[1]));
        Assert.Equal(0, table.RemoveRoutes(_hops[1]));
        for (int m = 0; m < Members; m++)
        {
            bool gone = Hop(m) == _hops[1];
            Assert.Same(gone ? null : Hop(m), table.Lookup(V4(m)));
            Assert.Same(gone ? null : Hop(m), table.Lookup(V6(m)));
            InboundDecision from = table.RouteInbound(_hops[0], Ipv4(V4(m).ToString(), "198.18.0.1"));
            Assert.Equal(gone ? InboundDecision.Drop(InboundDropReason.Spoofed) : InboundDecision.Deliver, from);
        }

        Assert.Null(table.Lookup(IPAddress.Parse("198.18.200.1")));
        Span<byte> local = stackalloc byte[4];
        Assert.True(table.TryGetLocalAddress(4, local));
    }

    [Fact]
    public void Forwarding_counters_survive_a_change_of_next_hop_and_the_removal_of_other_routes_at_scale()
    {
        var table = new RouteTable();
        AddMembers(table, Members);
        for (int m = 0; m < Members; m++)
        {
            for (int i = 0; i <= m % 3; i++)
            {
                table.RouteOutbound(Ipv4("198.18.0.1", V4(m).ToString()));
            }

            table.RouteOutbound(Ipv6("2001:2::1", V6(m).ToString()));
        }

        // Every member moves to the next hop after its own, then the even members' IPv4 routes go away.
        for (int m = 0; m < Members; m++)
        {
            table.SetForwardingRoute(new IPNetwork(V4(m), 32), _hops[(m + 1) % _hops.Length]);
            table.SetForwardingRoute(new IPNetwork(V6(m), 128), _hops[(m + 1) % _hops.Length]);
        }

        for (int m = 0; m < Members; m += 2)
        {
            table.RemoveRoute(new IPNetwork(V4(m), 32));
        }

        for (int m = 0; m < Members; m++)
        {
            Assert.Equal(m % 2 == 0 ? null : (long?)((m % 3) + 1), table.GetForwardedPackets(new IPNetwork(V4(m), 32)));
            Assert.Equal(1, table.GetForwardedPackets(new IPNetwork(V6(m), 128)));
            Assert.Same(_hops[(m + 1) % _hops.Length], table.Lookup(V6(m)));
        }
    }

    [Fact]
    public void An_ipv4_mapped_address_is_ipv6_and_matches_only_ipv6_prefixes()
    {
        var table = new RouteTable();
        var v4 = new FakeLink("v4");
        var mapped = new FakeLink("mapped");
        table.SetRoute(IPNetwork.Parse("198.18.0.5/32"), v4);
        Assert.Null(table.Lookup(IPAddress.Parse("::ffff:198.18.0.5")));
        Assert.Equal(RouteAction.Drop, table.RouteOutbound(Ipv6("2001:2::1", "::ffff:198.18.0.5")).Action);

        table.SetRoute(IPNetwork.Parse("::ffff:198.18.0.5/128"), mapped);
        table.SetRoute(IPNetwork.Parse("::ffff:198.18.0.0/120"), v4);
        Assert.Same(mapped, table.Lookup(IPAddress.Parse("::ffff:198.18.0.5")));
        Assert.Same(v4, table.Lookup(IPAddress.Parse("::ffff:198.18.0.6")));
        Assert.Same(v4, table.Lookup(IPAddress.Parse("198.18.0.5")));
        Assert.Null(table.Lookup(IPAddress.Parse("198.18.0.6")));
        Assert.Same(mapped, table.RouteOutbound(Ipv6("2001:2::1", "::ffff:198.18.0.5")).Link);
    }

    [Fact]
    public void Routes_are_listed_longest_prefix_first_and_in_the_order_they_were_last_set_within_a_length()
    {
        var table = new RouteTable();
        table.SetUnreachable(IPNetwork.Parse("198.18.0.0/15"));
        table.SetRoute(IPNetwork.Parse("198.18.0.2/32"), _hops[0]);
        table.SetRoute(IPNetwork.Parse("198.18.1.0/24"), _hops[0]);
        table.SetRoute(IPNetwork.Parse("2001:2::3/128"), _hops[0]);
        table.SetRoute(IPNetwork.Parse("198.18.0.3/32"), _hops[0]);
        table.SetLocal(IPNetwork.Parse("198.18.0.1/32"));
        table.SetRoute(IPNetwork.Parse("198.18.2.0/24"), _hops[0]);
        table.SetForwardingRoute(IPNetwork.Parse("198.18.0.2/32"), _hops[1]); // replaced: now the newest /32
        table.SetRoute(IPNetwork.Parse("198.18.1.0/24"), _hops[2]);

        Assert.Equal(
            ["198.18.0.3/32", "198.18.0.2/32", "198.18.2.0/24", "198.18.1.0/24", "198.18.0.0/15", "2001:2::3/128"],
            table.GetRoutes().Select(r => r.Prefix.ToString()));
        Assert.Same(_hops[2], table.GetRoutes()[3].Link);
    }

    [Fact]
    public void Ipv6_prefixes_that_differ_only_in_scope_id_keep_the_older_one_in_front_until_it_goes()
    {
        var table = new RouteTable();
        var first = new IPNetwork(new IPAddress(IPAddress.Parse("fe80::1").GetAddressBytes(), 1), 128);
        var second = new IPNetwork(new IPAddress(IPAddress.Parse("fe80::1").GetAddressBytes(), 2), 128);
        table.SetForwardingRoute(first, _hops[0]);
        table.SetForwardingRoute(second, _hops[1]);
        Assert.Equal(2, table.Count);
        Assert.Same(_hops[0], table.Lookup(IPAddress.Parse("fe80::1")));
        Assert.Equal(0, table.GetForwardedPackets(second));

        table.SetForwardingRoute(first, _hops[2]); // set again: now the newer of the two
        Assert.Same(_hops[1], table.Lookup(IPAddress.Parse("fe80::1")));
        Assert.True(table.RemoveRoute(second));
        Assert.Same(_hops[2], table.Lookup(IPAddress.Parse("fe80::1")));
        Assert.Null(table.GetForwardedPackets(second));
        Assert.Equal(1, table.RemoveRoutes(_hops[2]));
        Assert.Null(table.Lookup(IPAddress.Parse("fe80::1")));
    }

    [Fact]
    public void Random_writes_leave_the_same_answers_as_a_plain_longest_prefix_scan()
    {
        // A small address space, so probe runs in the hash table overlap and removals have to move entries back.
        var table = new RouteTable();
        var expected = new Dictionary<IPNetwork, FakeLink>();
        var random = new Random(16);
        IPNetwork[] shorter = [IPNetwork.Parse("198.18.0.0/22"), IPNetwork.Parse("198.18.0.0/24"), IPNetwork.Parse("198.18.2.0/23"), IPNetwork.Parse("0.0.0.0/0")];
        for (int op = 0; op < 4_000; op++)
        {
            int kind = random.Next(100);
            FakeLink link = _hops[random.Next(_hops.Length)];
            IPNetwork prefix = kind < 90 ? new IPNetwork(V4(random.Next(600)), 32) : shorter[random.Next(shorter.Length)];
            if (kind < 55 || kind is >= 90 and < 95)
            {
                table.SetRoute(prefix, link);
                expected[prefix] = link;
            }
            else if (kind < 88 || kind >= 95)
            {
                Assert.Equal(expected.Remove(prefix), table.RemoveRoute(prefix));
            }
            else
            {
                int removed = 0;
                foreach (IPNetwork gone in expected.Where(r => r.Value == link).Select(r => r.Key).ToList())
                {
                    removed += expected.Remove(gone) ? 1 : 0;
                }

                Assert.Equal(removed, table.RemoveRoutes(link));
            }

            if (op % 200 == 199)
            {
                Assert.Equal(expected.Count, table.Count);
                for (int a = -10; a < 1_100; a++)
                {
                    IPAddress address = V4(a);
                    FakeLink? best = null;
                    int bestLength = -1;
                    foreach ((IPNetwork p, FakeLink l) in expected)
                    {
                        if (p.Contains(address) && p.PrefixLength > bestLength)
                        {
                            (best, bestLength) = (l, p.PrefixLength);
                        }
                    }

                    Assert.Same(best, table.Lookup(address));
                }
            }
        }
    }

    [Fact]
    public void Lookups_at_4000_routes_do_not_allocate()
    {
        var table = new RouteTable();
        table.SetUnreachable(IPNetwork.Parse("198.18.0.0/15"));
        table.SetUnreachable(IPNetwork.Parse("2001:2::/48"));
        table.SetLocal(IPNetwork.Parse("198.18.0.1/32"));
        table.SetLocal(IPNetwork.Parse("2001:2::1/128"));
        AddMembers(table, 2_000);
        byte[][] packets =
        [
            Ipv4("198.18.0.1", V4(1_999).ToString()), Ipv6("2001:2::1", V6(1_234).ToString()),
            Ipv4(V4(7).ToString(), V4(1_500).ToString()), Ipv6(V6(7).ToString(), "2001:2::ffff"),
        ];
        foreach (byte[] p in packets)
        {
            table.RouteOutbound(p);
            table.RouteInbound(_hops[3], p);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            byte[] p = packets[i % packets.Length];
            table.RouteOutbound(p);
            table.RouteInbound(_hops[3], p);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private FakeLink Hop(int member) => _hops[member % _hops.Length];

    // Members from 198.18.0.10 and 2001:2::a up, as a controller numbers them.
    private static IPAddress V4(int member)
    {
        uint a = 0xC612_000AU + (uint)member;
        return new IPAddress([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]);
    }

    private static IPAddress V6(int member)
    {
        byte[] b = IPAddress.Parse("2001:2::").GetAddressBytes();
        int id = 10 + member;
        b[14] = (byte)(id >> 8);
        b[15] = (byte)id;
        return new IPAddress(b);
    }

    /// <summary>A /32 and a /128 per member, one write each, forwarding through the hops in turn.</summary>
    private void AddMembers(RouteTable table, int members)
    {
        for (int m = 0; m < members; m++)
        {
            table.SetForwardingRoute(new IPNetwork(V4(m), 32), Hop(m));
            table.SetForwardingRoute(new IPNetwork(V6(m), 128), Hop(m));
        }
    }
}
