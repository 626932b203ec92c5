using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// <c>route.set</c>'s <c>kind</c> (issue 16): forward, local and unreachable routes reach the router the way
/// RouteTable's overlay forwarding expects them, route.list shows them, and every mistake is named.
/// </summary>
public sealed class RouteKindTests
{
    private static readonly string B = new FakeTincan(2).Descriptor.ToJson();
    private static readonly string C = new FakeTincan(3).Descriptor.ToJson();

    [Fact]
    public async Task A_route_without_kind_is_direct_and_says_so()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);

        JsonElement r = await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");

        Assert.Equal("""{"route":{"prefix":"198.19.0.2/32","peer":"b","kind":"direct"}}""", r.GetRawText());
        Assert.Equal(r.GetRawText(), (await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32","kind":"direct"}""")).GetRawText());
        // A direct route's source must come from its own link: that is what tells it from a forward route.
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        Assert.False(router.AcceptInbound(h.Tincan.Link("c"), Packets.Ipv4("198.19.0.2", "198.19.0.1")));
    }

    [Fact]
    public async Task A_forward_route_sends_through_the_next_hop_accepts_the_member_from_any_link_and_counts_what_it_sent()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);

        JsonElement r = await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.3/32","kind":"forward"}""");

        Assert.Equal("""{"route":{"prefix":"198.19.0.3/32","peer":"b","kind":"forward","forwarded_packets":0}}""", r.GetRawText());
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        byte[] toMember = Packets.Ipv4("198.19.0.1", "198.19.0.3");
        for (int i = 0; i < 4; i++)
        {
            Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(toMember).Link);
        }

        Assert.True(router.AcceptInbound(h.Tincan.Link("c"), Packets.Ipv4("198.19.0.3", "198.19.0.1")));
        Assert.True(router.AcceptInbound(h.Tincan.Link("b"), Packets.Ipv4("198.19.0.3", "198.19.0.1")));
        Assert.Equal(
            """[{"prefix":"198.19.0.3/32","peer":"b","kind":"forward","forwarded_packets":4}]""",
            (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());

        // A new next hop keeps the count (RouteTable keeps it across a change of next hop).
        r = await c.OkAsync("route.set", """{"peer":"c","prefix":"198.19.0.3/32","kind":"forward"}""");
        Assert.Equal(4, r.GetProperty("route").GetProperty("forwarded_packets").GetInt64());
        Assert.Same(h.Tincan.Link("c"), router.RouteOutbound(toMember).Link);
    }

    [Fact]
    public async Task Local_and_unreachable_prefixes_turn_forwarding_on_and_list_without_a_peer()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);
        await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");
        await c.OkAsync("route.set", """{"peer":"c","prefix":"198.19.0.3/32"}""");
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        byte[] bToC = Packets.Ipv4("198.19.0.2", "198.19.0.3");
        Assert.Equal(InboundDecision.Deliver, router.RouteInbound(h.Tincan.Link("b"), bToC));

        Assert.Equal("""{"route":{"prefix":"198.19.0.1/32","peer":null,"kind":"local"}}""", (await c.OkAsync("route.set", """{"prefix":"198.19.0.1/32","kind":"local"}""")).GetRawText());
        Assert.Equal("""{"route":{"prefix":"198.19.0.0/24","peer":null,"kind":"unreachable"}}""", (await c.OkAsync("route.set", """{"prefix":"198.19.0.0/24","kind":"unreachable"}""")).GetRawText());
        await c.OkAsync("route.set", """{"prefix":"2001:2:0:1::1/128","kind":"local"}""");

        Assert.Equal(InboundDecision.Forward(h.Tincan.Link("c")), router.RouteInbound(h.Tincan.Link("b"), bToC));
        Assert.Equal(InboundDecision.Deliver, router.RouteInbound(h.Tincan.Link("b"), Packets.Ipv4("198.19.0.2", "198.19.0.1")));
        Assert.Equal(RouteDecision.Unreachable, router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.9")));
        Assert.Equal(
            """[{"prefix":"198.19.0.0/24","peer":null,"kind":"unreachable"},{"prefix":"198.19.0.1/32","peer":null,"kind":"local"},{"prefix":"198.19.0.2/32","peer":"b","kind":"direct"},{"prefix":"198.19.0.3/32","peer":"c","kind":"direct"},{"prefix":"2001:2:0:1::1/128","peer":null,"kind":"local"}]""",
            (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());

        // route.remove takes a route of any kind; without a local prefix the table delivers again instead of forwarding.
        await c.OkAsync("route.remove", """{"prefix":"198.19.0.1/32"}""");
        await c.OkAsync("route.remove", """{"prefix":"2001:2:0:1::1/128"}""");
        await c.OkAsync("route.remove", """{"prefix":"198.19.0.0/24"}""");
        Assert.Equal(InboundDecision.Deliver, router.RouteInbound(h.Tincan.Link("b"), bToC));
        Assert.Equal(RouteDecision.Drop, router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.9")));
        Assert.Equal(2, (await c.OkAsync("route.list")).GetProperty("routes").GetArrayLength());
    }

    [Fact]
    public async Task Recreating_the_next_hops_link_moves_its_forward_routes_and_removing_it_drops_them_but_not_local_prefixes()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);
        await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.3/32","kind":"forward"}""");
        await c.OkAsync("route.set", """{"prefix":"198.19.0.1/32","kind":"local"}""");
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        FakeLink old = h.Tincan.Link("b");

        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");

        Assert.NotSame(old, h.Tincan.Link("b"));
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")).Link);
        Assert.Equal("forward", (await c.OkAsync("route.list")).GetProperty("routes")[1].GetProperty("kind").GetString());

        await c.OkAsync("link.remove", """{"peer":"b"}""");
        Assert.Equal(RouteDecision.Drop, router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")));
        Assert.Equal(
            """[{"prefix":"198.19.0.1/32","peer":null,"kind":"local"}]""",
            (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
    }

    [Fact]
    public async Task Link_query_reports_packets_and_bytes_forwarded_over_the_link()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);
        h.Tincan.Link("c").Stats = new LinkStats { PacketsSent = 10, BytesSent = 9000, PacketsForwarded = 7, BytesForwarded = 6300 };

        JsonElement stats = (await c.OkAsync("link.query", """{"peer":"c"}""")).GetProperty("link").GetProperty("stats");

        Assert.Equal((7, 6300), (stats.GetProperty("packets_forwarded").GetInt64(), stats.GetProperty("bytes_forwarded").GetInt64()));
        JsonElement all = (await c.OkAsync("link.query")).GetProperty("links");
        Assert.Equal(0, all[0].GetProperty("stats").GetProperty("packets_forwarded").GetInt64());
        Assert.Equal(7, all[1].GetProperty("stats").GetProperty("packets_forwarded").GetInt64());
    }

    [Fact]
    public async Task Version_lists_the_route_kind_feature_so_a_controller_can_tell_an_older_server()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        Assert.Contains("route.kind", (await c.OkAsync("version")).GetProperty("features").EnumerateArray().Select(e => e.GetString()));
    }

    public static TheoryData<string, string> KindErrors => new()
    {
        { """{"peer":"b","prefix":"198.19.0.3/32","kind":"relay"}""", "args.kind: expected one of direct, forward, local, unreachable, got 'relay'." },
        { """{"peer":"b","prefix":"198.19.0.3/32","kind":"FORWARD"}""", "args.kind: expected one of direct, forward, local, unreachable, got 'FORWARD'." },
        { """{"peer":"b","prefix":"198.19.0.3/32","kind":2}""", "args.kind: expected one of direct, forward, local, unreachable, got the number 2." },
        { """{"prefix":"198.19.0.3/32","kind":"forward"}""", "args.peer: expected the next-hop peer id (the member whose link carries packets for 198.19.0.3/32, and which passes them on), got nothing." },
        { """{"peer":"","prefix":"198.19.0.3/32","kind":"forward"}""", "args.peer: expected a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a), got ''." },
        { """{"peer":"b","mac":"02:00:5e:00:53:03","kind":"forward"}""", "args.mac: interface ipop0 is a tun interface, which routes by IP prefix; use args.prefix." },
        { """{"prefix":"198.19.0.0/24","kind":"local"}""", "args.prefix: expected a /32 or /128 for kind 'local' (one of this node's own addresses), got '198.19.0.0/24'." },
        { """{"prefix":"2001:2:0:1::/64","kind":"local"}""", "args.prefix: expected a /32 or /128 for kind 'local' (one of this node's own addresses), got '2001:2:0:1::/64'." },
        { """{"prefix":"198.19.0.1/24","kind":"local"}""", "args.prefix: expected a prefix with zero host bits such as 198.19.0.2/32, 198.19.0.0/16 or 2001:2::/64, got '198.19.0.1/24'." },
        { """{"peer":"b","prefix":"198.19.0.1/32","kind":"local"}""", "args.peer: a local prefix names no link; leave out 'peer'." },
        { """{"peer":"b","prefix":"198.19.0.0/24","kind":"unreachable"}""", "args.peer: an unreachable prefix names no link; leave out 'peer'." },
        { """{"kind":"unreachable"}""", "args.prefix: expected a prefix such as 198.19.0.2/32 (tun interface), or give args.mac such as 02:00:5e:00:53:01 (tap interface); got neither." },
    };

    [Theory]
    [MemberData(nameof(KindErrors))]
    public async Task A_wrong_kind_or_an_argument_the_kind_does_not_fit_is_named(string args, string message)
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);

        Assert.Equal(message, await c.FailAsync("route.set", args, "invalid_args"));

        Assert.Empty((await c.OkAsync("route.list")).GetProperty("routes").EnumerateArray());
    }

    [Fact]
    public async Task A_forward_route_through_a_peer_without_a_link_is_not_found()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TunWithLinksAsync(h);
        Assert.Equal(
            "args.peer: there is no link to 'dave'; link.create makes one.",
            await c.FailAsync("route.set", """{"peer":"dave","prefix":"198.19.0.4/32","kind":"forward"}""", "not_found"));
    }

    [Theory]
    [InlineData("local", """{"mac":"02:00:5e:00:53:01","kind":"local"}""")]
    [InlineData("local", """{"prefix":"198.19.0.1/32","kind":"local"}""")]
    [InlineData("unreachable", """{"mac":"02:00:5e:00:53:03","kind":"unreachable"}""")]
    public async Task A_tap_interface_refuses_local_and_unreachable_and_names_the_kinds_it_takes(string kind, string args)
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"name":"ipop0","mode":"tap"}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");

        string message = await c.FailAsync("route.set", args, "invalid_args");

        Assert.Equal(
            $"args.kind: '{kind}' needs a tun interface; interface ipop0 is a tap interface, which routes by MAC address and takes kind 'direct' (pins a MAC to a link) or 'forward' (a member's MAC through a next hop) with args.mac. Its switch learns the other stations, and ring.set makes its frames cross members.",
            message);
        Assert.Empty((await c.OkAsync("route.list")).GetProperty("routes").EnumerateArray());
        await c.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:03","kind":"direct"}""");
    }

    [Theory]
    [InlineData("""{"peer":"b","prefix":"198.19.0.3/32","kind":"forward"}""", "args.prefix: interface ipop0 is a tap interface, which routes by MAC address; use args.mac.")]
    [InlineData("""{"mac":"02:00:5e:00:53:03","kind":"forward"}""", "args.peer: expected the next-hop peer id (the member whose link carries frames for 02:00:5e:00:53:03, and which passes them on), got nothing.")]
    public async Task A_forward_route_on_a_tap_interface_takes_a_mac_and_a_next_hop(string args, string message)
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"name":"ipop0","mode":"tap"}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");

        Assert.Equal(message, await c.FailAsync("route.set", args, "invalid_args"));
        Assert.Empty((await c.OkAsync("route.list")).GetProperty("routes").EnumerateArray());
    }

    [Fact]
    public async Task Without_an_interface_a_kind_still_needs_one_first()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        Assert.Equal(
            "There is no interface yet; routes belong to an interface, so call interface.create first.",
            await c.FailAsync("route.set", """{"prefix":"198.19.0.1/32","kind":"local"}""", "invalid_state"));
    }

    [Fact]
    public async Task A_host_router_written_before_forwarding_answers_unsupported_and_keeps_direct_routes_working()
    {
        var routers = new LegacyRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await TunWithLinksAsync(h);
        await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");

        string message = await c.FailAsync("route.set", """{"peer":"b","prefix":"198.19.0.3/32","kind":"forward"}""", "unsupported");

        Assert.Equal("The host's router cannot set a route of kind 'forward': LegacyRouter does not implement forwarding routes (IControllerRouter.SetForwardingRoute).", message);
        Assert.StartsWith("The host's router cannot set a route of kind 'local': LegacyRouter does not implement local prefixes", await c.FailAsync("route.set", """{"prefix":"198.19.0.1/32","kind":"local"}""", "unsupported"), StringComparison.Ordinal);
        Assert.StartsWith("The host's router cannot set a route of kind 'unreachable': LegacyRouter does not implement unreachable prefixes", await c.FailAsync("route.set", """{"prefix":"198.19.0.0/24","kind":"unreachable"}""", "unsupported"), StringComparison.Ordinal);
        Assert.Equal(["198.19.0.2/32"], routers.Router!.Routes.Keys.Select(p => p.ToString()));
        Assert.Equal(
            """[{"prefix":"198.19.0.2/32","peer":"b","kind":"direct"}]""",
            (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
    }

    [Fact]
    public void The_default_members_throw_not_supported_naming_the_router_and_the_member()
    {
        IControllerRouter router = new LegacyRouter();
        IPNetwork prefix = IPNetwork.Parse("198.19.0.3/32");
        FakeLink link = new(new FakeTincan(1), new PeerId("b"), new FakeTincan(2).LocalKey);

        Assert.Contains("LegacyRouter does not implement forwarding routes (IControllerRouter.SetForwardingRoute)", Assert.Throws<NotSupportedException>(() => router.SetForwardingRoute(prefix, link)).Message, StringComparison.Ordinal);
        Assert.Contains("(IControllerRouter.SetLocal)", Assert.Throws<NotSupportedException>(() => router.SetLocal(prefix)).Message, StringComparison.Ordinal);
        Assert.Contains("(IControllerRouter.SetUnreachable)", Assert.Throws<NotSupportedException>(() => router.SetUnreachable(prefix)).Message, StringComparison.Ordinal);
        Assert.Contains("(IControllerRouter.GetForwardedPackets)", Assert.Throws<NotSupportedException>(() => router.GetForwardedPackets(prefix)).Message, StringComparison.Ordinal);
    }

    /// <summary>A TUN interface ipop0 (198.19.0.1/24) and links to b and c (connecting), as the owner.</summary>
    private static async Task<TestClient> TunWithLinksAsync(ApiHarness h)
    {
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.1/24"]}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");
        await c.OkAsync("link.create", $$"""{"peer":"c","descriptor":{{C}}}""");
        return c;
    }

    private sealed class LegacyRouterFactory : IControllerRouterFactory
    {
        public LegacyRouter? Router { get; private set; }

        public IControllerRouter Create(VirtualInterfaceMode mode) => Router = new LegacyRouter();
    }

    /// <summary>A host's router as written before overlay forwarding: only the members IControllerRouter had then.</summary>
    private sealed class LegacyRouter : IControllerRouter
    {
        public Dictionary<IPNetwork, ITincanLink> Routes { get; } = [];

        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;

        public void SetRoute(IPNetwork prefix, ITincanLink link) => Routes[prefix] = link;

        public bool RemoveRoute(IPNetwork prefix) => Routes.Remove(prefix);

        public void SetMacRoute(PhysicalAddress mac, ITincanLink link) => throw new NotSupportedException();

        public bool RemoveMacRoute(PhysicalAddress mac) => throw new NotSupportedException();

        public void RemoveRoutes(ITincanLink link)
        {
        }
    }
}
