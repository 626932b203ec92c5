using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// <c>route.set</c> with <c>"kind":"forward"</c> and a MAC on a tap interface: a member's MAC goes through the next hop
/// the controller chose (a member route in the switch, <see cref="LearningSwitch.SetMemberRoute"/>), one route per MAC
/// whatever its kind, following the next hop's link, and every mistake is named.
/// </summary>
public sealed class MemberRouteTests
{
    private const string Carol = "02:00:5e:00:53:0c";
    private const string Dave = "02:00:5e:00:53:0d";
    private const string OwnMac = "02:00:5e:00:53:aa"; // FakeInterfaceFactory's MAC for a tap interface created without one

    private static readonly string B = new FakeTincan(2).Descriptor.ToJson();
    private static readonly byte[] CarolBytes = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x0c];
    private static readonly byte[] OwnBytes = [0x02, 0x00, 0x5e, 0x00, 0x53, 0xaa];
    private static readonly LinkStatus Connected = new(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);

    [Fact]
    public async Task A_forward_route_for_a_mac_sends_its_frames_to_the_next_hop_while_that_link_is_up()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TapWithConnectedLinksAsync(h);
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        byte[] toCarol = Packets.Ethernet(CarolBytes, OwnBytes);
        Assert.Equal(RouteAction.Flood, router.RouteOutbound(toCarol).Action);

        JsonElement set = await c.OkAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""");

        Assert.Equal($$$"""{"route":{"mac":"{{{Carol}}}","peer":"b","kind":"forward"}}""", set.GetRawText());
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(toCarol).Link);
        // Her frames may come back on any link (paths are asymmetric), and do not move the route.
        Assert.True(router.AcceptInbound(h.Tincan.Link("c"), Packets.Ethernet(OwnBytes, CarolBytes)));
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(toCarol).Link);

        // Setting it again replaces the next hop; the list shows one route, without a count.
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}","kind":"forward"}""");
        Assert.Same(h.Tincan.Link("c"), router.RouteOutbound(toCarol).Link);
        Assert.Equal($$"""[{"mac":"{{Carol}}","peer":"c","kind":"forward"}]""", (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());

        // The route is used only while the next hop's link is up; meanwhile her frames are flooded.
        h.Tincan.Link("c").SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        Assert.Equal(RouteAction.Flood, router.RouteOutbound(toCarol).Action);
        h.Tincan.Link("c").SetStatus(Connected);
        Assert.Same(h.Tincan.Link("c"), router.RouteOutbound(toCarol).Link);

        Assert.True((await c.OkAsync("route.remove", $$"""{"mac":"{{Carol}}"}""")).GetProperty("removed").GetBoolean());
        Assert.Equal(RouteAction.Flood, router.RouteOutbound(toCarol).Action);
        Assert.Empty((await c.OkAsync("route.list")).GetProperty("routes").EnumerateArray());
        Assert.Equal(
            $"There is no route for {Carol}; route.list shows the routes.",
            await c.FailAsync("route.remove", $$"""{"mac":"{{Carol}}"}""", "not_found"));
    }

    [Fact]
    public async Task Replacing_a_pin_with_a_forward_route_and_back_leaves_one_entry_in_the_switch()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TapWithConnectedLinksAsync(h);
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        byte[] toCarol = Packets.Ethernet(CarolBytes, OwnBytes);
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}"}""");
        Assert.False(router.AcceptInbound(h.Tincan.Link("b"), Packets.Ethernet(OwnBytes, CarolBytes)));

        await c.OkAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""");

        // The pin is gone: c may pin another MAC (the switch pins one per link), and Carol's frames arrive over b.
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(toCarol).Link);
        Assert.True(router.AcceptInbound(h.Tincan.Link("b"), Packets.Ethernet(OwnBytes, CarolBytes)));
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Dave}}"}""");
        await c.OkAsync("route.remove", $$"""{"mac":"{{Dave}}"}""");
        Assert.Equal($$"""[{"mac":"{{Carol}}","peer":"b","kind":"forward"}]""", (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());

        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}"}""");

        // The member route is gone: with c down, Carol's frames are flooded rather than sent to b.
        Assert.Same(h.Tincan.Link("c"), router.RouteOutbound(toCarol).Link);
        h.Tincan.Link("c").SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        Assert.Equal(RouteAction.Flood, router.RouteOutbound(toCarol).Action);
        Assert.Equal($$"""[{"mac":"{{Carol}}","peer":"c","kind":"direct"}]""", (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
    }

    [Fact]
    public async Task Route_set_and_remove_reach_the_router_method_of_the_entrys_kind()
    {
        var routers = new RecordingRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await RingTests.TapWithLinksAsync(h);
        RecordingRouter router = routers.Router!;

        await c.OkAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""");
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Dave}}"}""");
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}","kind":"forward"}""");
        Assert.Equal([$"forward {Carol} b", $"pin {Dave} c", $"forward {Carol} c"], router.Calls);

        await c.OkAsync("route.remove", $$"""{"mac":"{{Carol}}"}""");
        await c.OkAsync("route.remove", $$"""{"mac":"{{Dave}}"}""");
        Assert.Equal([$"unforward {Carol}", $"unpin {Dave}"], router.Calls[3..]);
        Assert.Empty(router.Pins);
        Assert.Empty(router.Forwards);
    }

    [Fact]
    public async Task A_route_of_the_other_kind_for_the_same_mac_is_taken_out_of_the_router_after_the_new_one_is_in()
    {
        var routers = new RecordingRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await RingTests.TapWithLinksAsync(h);
        RecordingRouter router = routers.Router!;
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}"}""");

        await c.OkAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""");
        Assert.Equal([$"pin {Carol} c", $"forward {Carol} b", $"unpin {Carol}"], router.Calls);
        Assert.Empty(router.Pins);
        Assert.Same(h.Tincan.Link("b"), router.Forwards[Carol]);

        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}","kind":"direct"}""");
        Assert.Equal([$"pin {Carol} c", $"unforward {Carol}"], router.Calls[3..]);
        Assert.Empty(router.Forwards);
        Assert.Same(h.Tincan.Link("c"), router.Pins[Carol]);

        // Same kind: the router replaces the entry itself, nothing is removed.
        await c.OkAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}"}""");
        Assert.Equal([$"pin {Carol} b"], router.Calls[5..]);
    }

    [Fact]
    public async Task A_forward_route_the_router_refuses_is_named_and_leaves_the_pin_it_would_have_replaced()
    {
        var routers = new RecordingRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await RingTests.TapWithLinksAsync(h);
        RecordingRouter router = routers.Router!;
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}"}""");
        router.Refuse = "the host keeps 02:00:5e:00:53:0c for itself.";

        Assert.Equal(
            "args.mac: the host keeps 02:00:5e:00:53:0c for itself.",
            await c.FailAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""", "invalid_args"));

        Assert.Same(h.Tincan.Link("c"), router.Pins[Carol]);
        Assert.Equal($$"""[{"mac":"{{Carol}}","peer":"c","kind":"direct"}]""", (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
    }

    [Fact]
    public async Task A_forward_route_for_this_nodes_own_mac_is_refused_with_the_reason()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TapWithConnectedLinksAsync(h);

        Assert.Equal(
            $"args.mac: {OwnMac} is this node's own MAC address (interface ipop0's): frames for it are delivered to the interface, so it cannot be routed through a next hop.",
            await c.FailAsync("route.set", """{"peer":"b","mac":"02-00-5E-00-53-AA","kind":"forward"}""", "invalid_args"));

        Assert.Empty((await c.OkAsync("route.list")).GetProperty("routes").EnumerateArray());
    }

    [Fact]
    public async Task Recreating_the_next_hops_link_moves_its_mac_routes_and_removing_it_drops_them()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TapWithConnectedLinksAsync(h);
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        byte[] toCarol = Packets.Ethernet(CarolBytes, OwnBytes);
        await c.OkAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""");
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Dave}}","kind":"forward"}""");
        FakeLink old = h.Tincan.Link("b");

        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");
        h.Tincan.Link("b").SetStatus(Connected);

        Assert.NotSame(old, h.Tincan.Link("b"));
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(toCarol).Link);

        await c.OkAsync("link.remove", """{"peer":"b"}""");

        Assert.Equal(RouteAction.Flood, router.RouteOutbound(toCarol).Action);
        Assert.Equal($$"""[{"mac":"{{Dave}}","peer":"c","kind":"forward"}]""", (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
        Assert.Same(h.Tincan.Link("c"), router.RouteOutbound(Packets.Ethernet([0x02, 0x00, 0x5e, 0x00, 0x53, 0x0d], OwnBytes)).Link);
    }

    [Fact]
    public async Task A_host_router_written_before_member_routes_answers_unsupported_and_keeps_its_pins()
    {
        var routers = new LegacyRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await RingTests.TapWithLinksAsync(h);
        await c.OkAsync("route.set", $$"""{"peer":"c","mac":"{{Carol}}"}""");

        Assert.Equal(
            "The host's router cannot set a route of kind 'forward': LegacyRouter does not implement MAC forwarding routes (IControllerRouter.SetMacForwardingRoute).",
            await c.FailAsync("route.set", $$"""{"peer":"b","mac":"{{Carol}}","kind":"forward"}""", "unsupported"));

        Assert.Equal([Carol], routers.Router!.Pins);
        Assert.Equal($$"""[{"mac":"{{Carol}}","peer":"c","kind":"direct"}]""", (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
    }

    [Fact]
    public void The_default_members_throw_not_supported_naming_the_router_and_the_member()
    {
        IControllerRouter router = new LegacyRouter();
        var mac = new PhysicalAddress(CarolBytes);
        FakeLink link = new(new FakeTincan(1), new PeerId("b"), new FakeTincan(2).LocalKey);

        Assert.Equal(
            "LegacyRouter does not implement MAC forwarding routes (IControllerRouter.SetMacForwardingRoute).",
            Assert.Throws<NotSupportedException>(() => router.SetMacForwardingRoute(mac, link)).Message);
        Assert.Equal(
            "LegacyRouter does not implement MAC forwarding routes (IControllerRouter.RemoveMacForwardingRoute).",
            Assert.Throws<NotSupportedException>(() => router.RemoveMacForwardingRoute(mac)).Message);
    }

    /// <summary>
    /// <see cref="RingTests.TapWithLinksAsync"/> with both links connected (the switch sends only to connected links) and ring
    /// positions: this node 1..., b 5..., c 9..., as a structured overlay's controller sets them.
    /// </summary>
    private static async Task<TestClient> TapWithConnectedLinksAsync(ApiHarness h)
    {
        TestClient c = await RingTests.TapWithLinksAsync(h);
        h.Tincan.Link("b").SetStatus(Connected);
        h.Tincan.Link("c").SetStatus(Connected);
        await c.OkAsync("ring.set", """{"peer":"b","position":"5000000000000000"}""");
        await c.OkAsync("ring.set", """{"peer":"c","position":"9000000000000000"}""");
        await c.OkAsync("ring.set", """{"position":"1000000000000000"}""");
        return c;
    }

    private sealed class RecordingRouterFactory : IControllerRouterFactory
    {
        public RecordingRouter? Router { get; private set; }

        public IControllerRouter Create(VirtualInterfaceMode mode) => Router = new RecordingRouter();
    }

    /// <summary>A host's TAP router that keeps static entries and member routes apart, as a switch does, and records each call.</summary>
    private sealed class RecordingRouter : IControllerRouter
    {
        public List<string> Calls { get; } = [];

        public Dictionary<string, ITincanLink> Pins { get; } = [];

        public Dictionary<string, ITincanLink> Forwards { get; } = [];

        /// <summary>When set, <see cref="SetMacForwardingRoute"/> refuses with this message.</summary>
        public string? Refuse { get; set; }

        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;

        public void SetRoute(IPNetwork prefix, ITincanLink link) => throw new NotSupportedException();

        public bool RemoveRoute(IPNetwork prefix) => throw new NotSupportedException();

        public void SetMacRoute(PhysicalAddress mac, ITincanLink link)
        {
            Calls.Add($"pin {Text(mac)} {link.Peer.Value}");
            Pins[Text(mac)] = link;
        }

        public bool RemoveMacRoute(PhysicalAddress mac)
        {
            Calls.Add($"unpin {Text(mac)}");
            return Pins.Remove(Text(mac));
        }

        public void SetMacForwardingRoute(PhysicalAddress mac, ITincanLink nextHop)
        {
            if (Refuse is { } reason)
            {
                throw new ArgumentException(reason);
            }

            Calls.Add($"forward {Text(mac)} {nextHop.Peer.Value}");
            Forwards[Text(mac)] = nextHop;
        }

        public bool RemoveMacForwardingRoute(PhysicalAddress mac)
        {
            Calls.Add($"unforward {Text(mac)}");
            return Forwards.Remove(Text(mac));
        }

        public void RemoveRoutes(ITincanLink link)
        {
        }

        public void SetRingPosition(ulong position)
        {
        }

        public void SetRingPosition(ITincanLink link, ulong position)
        {
        }

        private static string Text(PhysicalAddress mac) => string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    private sealed class LegacyRouterFactory : IControllerRouterFactory
    {
        public LegacyRouter? Router { get; private set; }

        public IControllerRouter Create(VirtualInterfaceMode mode) => Router = new LegacyRouter();
    }

    /// <summary>A host's TAP router as written before member routes: only the members IControllerRouter had then.</summary>
    private sealed class LegacyRouter : IControllerRouter
    {
        public List<string> Pins { get; } = [];

        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;

        public void SetRoute(IPNetwork prefix, ITincanLink link) => throw new NotSupportedException();

        public bool RemoveRoute(IPNetwork prefix) => throw new NotSupportedException();

        public void SetMacRoute(PhysicalAddress mac, ITincanLink link) => Pins.Add(string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture))));

        public bool RemoveMacRoute(PhysicalAddress mac) => true;

        public void RemoveRoutes(ITincanLink link)
        {
        }
    }
}
