using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// <c>ring.set</c> (issue 16): a controller gives a tap interface's switch this node's ring position and each link's
/// member position, the objects show them, they follow a re-created link, and every mistake is named.
/// </summary>
public sealed class RingTests
{
    private static readonly string B = new FakeTincan(2).Descriptor.ToJson();
    private static readonly string C = new FakeTincan(3).Descriptor.ToJson();

    [Fact]
    public async Task Ring_set_hands_the_positions_to_the_router_and_the_interface_and_link_objects_show_them()
    {
        var routers = new RecordingRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await TapWithLinksAsync(h);

        Assert.Equal("""{"peer":null,"position":"1000000000000000"}""", (await c.OkAsync("ring.set", """{"position":"1000000000000000"}""")).GetRawText());
        // Upper-case digits are accepted; positions are always shown in lower case.
        Assert.Equal("""{"peer":"b","position":"a0000000000000ff"}""", (await c.OkAsync("ring.set", """{"peer":"b","position":"A0000000000000FF"}""")).GetRawText());

        RecordingRouter router = routers.Router!;
        Assert.Equal(new (ITincanLink?, ulong)[] { (null, 0x1000000000000000UL), (h.Tincan.Link("b"), 0xa0000000000000ffUL) }, router.Positions);
        Assert.Equal("1000000000000000", (await c.OkAsync("interface.query")).GetProperty("interface").GetProperty("ring_position").GetString());
        Assert.Equal("a0000000000000ff", (await c.OkAsync("link.query", """{"peer":"b"}""")).GetProperty("link").GetProperty("ring_position").GetString());
        // A link without a position has no field, as before ring.set existed.
        Assert.False((await c.OkAsync("link.query", """{"peer":"c"}""")).GetProperty("link").TryGetProperty("ring_position", out _));

        // Setting again replaces; the full range of 64 bits round-trips.
        await c.OkAsync("ring.set", """{"peer":"b","position":"ffffffffffffffff"}""");
        Assert.Equal(ulong.MaxValue, router.Positions[^1].Position);
        Assert.Equal("ffffffffffffffff", (await c.OkAsync("link.query", """{"peer":"b"}""")).GetProperty("link").GetProperty("ring_position").GetString());
    }

    [Fact]
    public async Task Version_lists_ring_set_and_the_ring_position_and_member_route_features()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        JsonElement version = await c.OkAsync("version");
        Assert.Contains("ring.set", version.GetProperty("ops").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["route.kind", "ring.position", "ring.member_routes"], version.GetProperty("features").EnumerateArray().Select(e => e.GetString()));
        Assert.True(ControllerApiServer.IsMutating("ring.set"));
    }

    [Fact]
    public async Task A_re_created_link_gets_its_position_again_and_link_or_interface_removal_drops_it()
    {
        var routers = new RecordingRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await TapWithLinksAsync(h);
        await c.OkAsync("ring.set", """{"peer":"b","position":"5000000000000000"}""");
        FakeLink before = h.Tincan.Link("b");

        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");

        FakeLink after = h.Tincan.Link("b");
        Assert.NotSame(before, after);
        Assert.Contains(before, routers.Router!.Removed);
        Assert.Equal(((ITincanLink?)after, 0x5000000000000000UL), routers.Router.Positions[^1]);

        await c.OkAsync("link.remove", """{"peer":"b"}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");
        Assert.False((await c.OkAsync("link.query", """{"peer":"b"}""")).GetProperty("link").TryGetProperty("ring_position", out _));
        Assert.Equal(2, routers.Router.Positions.Count);

        await c.OkAsync("ring.set", """{"peer":"c","position":"9000000000000000"}""");
        await c.OkAsync("ring.set", """{"position":"1000000000000000"}""");
        await c.OkAsync("interface.remove");
        await c.OkAsync("interface.create", """{"name":"ipop0","mode":"tap"}""");
        Assert.False((await c.OkAsync("link.query", """{"peer":"c"}""")).GetProperty("link").TryGetProperty("ring_position", out _));
        Assert.False((await c.OkAsync("interface.query")).GetProperty("interface").TryGetProperty("ring_position", out _));
    }

    [Fact]
    public async Task The_built_in_switch_keeps_a_link_position_when_a_pinned_mac_moves_off_it()
    {
        // Through the API with the built-in router: route.set for a MAC pinned elsewhere and route.remove both make the
        // switch forget a link (MacRouter sets its position on the switch again; RealTincanTests shows frames crossing).
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TapWithLinksAsync(h);
        await c.OkAsync("ring.set", """{"peer":"b","position":"5000000000000000"}""");
        await c.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:02"}""");
        await c.OkAsync("route.set", """{"peer":"c","mac":"02:00:5e:00:53:02"}""");
        await c.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:0b"}""");

        Assert.Equal(
            "args.mac: the link to 'b' has 02:00:5e:00:53:0b pinned already, and the switch pins one MAC per link (stations behind it are learned); route.remove that route first.",
            await c.FailAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:0c"}""", "invalid_args"));
        Assert.True((await c.OkAsync("route.remove", """{"mac":"02:00:5e:00:53:0b"}""")).GetProperty("removed").GetBoolean());
        Assert.Equal(
            """[{"mac":"02:00:5e:00:53:02","peer":"c","kind":"direct"}]""",
            (await c.OkAsync("route.list")).GetProperty("routes").GetRawText());
        Assert.Equal("5000000000000000", (await c.OkAsync("link.query", """{"peer":"b"}""")).GetProperty("link").GetProperty("ring_position").GetString());
    }

    public static TheoryData<string, string> ArgErrors => new()
    {
        { "{}", "args.position: expected a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53), got nothing." },
        { """{"position":1152921504606846976}""", "args.position: expected a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53), got the number 1152921504606846976." },
        { """{"position":"1000"}""", "args.position: expected a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53), got '1000'." },
        { """{"position":"10000000000000000"}""", "args.position: expected a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53), got '10000000000000000'." },
        { """{"position":"100000000000000g"}""", "args.position: expected a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53), got '100000000000000g'." },
        { """{"position":"0x10000000000000"}""", "args.position: expected a ring position as a string of 16 hex digits such as \"8000000000000000\" (64 bits; a JSON number loses precision above 2^53), got '0x10000000000000'." },
        { """{"position":"1000000000000000","peer":""}""", "args.peer: expected a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a), got ''." },
        { """{"position":"1000000000000000","peer":7}""", "args.peer: expected a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a), got the number 7." },
    };

    [Theory]
    [MemberData(nameof(ArgErrors))]
    public async Task A_bad_position_or_peer_is_named_and_changes_nothing(string args, string message)
    {
        var routers = new RecordingRouterFactory();
        await using ApiHarness h = await ApiHarness.StartAsync(routers: routers);
        TestClient c = await TapWithLinksAsync(h);

        Assert.Equal(message, await c.FailAsync("ring.set", args, "invalid_args"));

        Assert.Empty(routers.Router!.Positions);
        Assert.False((await c.OkAsync("interface.query")).GetProperty("interface").TryGetProperty("ring_position", out _));
    }

    [Fact]
    public async Task A_peer_without_a_link_is_not_found()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await TapWithLinksAsync(h);
        Assert.Equal(
            "args.peer: there is no link to 'dave'; link.create makes one.",
            await c.FailAsync("ring.set", """{"peer":"dave","position":"1000000000000000"}""", "not_found"));
    }

    [Fact]
    public async Task Without_an_interface_or_on_a_tun_interface_ring_set_says_what_is_needed()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        Assert.Equal(
            "There is no interface yet; ring positions belong to a tap interface's switch, so call interface.create with \"mode\":\"tap\" first.",
            await c.FailAsync("ring.set", """{"position":"1000000000000000"}""", "invalid_state"));

        await c.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.1/24"]}""");
        Assert.Equal(
            "Interface ipop0 is a tun interface: ring positions are for a tap interface, whose frames cross members by ring position. A tun interface forwards by route kinds (route.set with \"kind\":\"forward\", \"local\" and \"unreachable\").",
            await c.FailAsync("ring.set", """{"position":"1000000000000000"}""", "invalid_state"));
    }

    [Fact]
    public async Task A_host_router_written_before_ring_positions_answers_unsupported()
    {
        await using ApiHarness h = await ApiHarness.StartAsync(routers: new LegacyRouterFactory());
        TestClient c = await TapWithLinksAsync(h);
        Assert.Equal(
            "The host's router cannot take ring positions: LegacyRouter does not implement ring positions (IControllerRouter.SetRingPosition(ulong)).",
            await c.FailAsync("ring.set", """{"position":"1000000000000000"}""", "unsupported"));
        Assert.Equal(
            "The host's router cannot take ring positions: LegacyRouter does not implement ring positions (IControllerRouter.SetRingPosition(ITincanLink, ulong)).",
            await c.FailAsync("ring.set", """{"peer":"b","position":"1000000000000000"}""", "unsupported"));
        Assert.False((await c.OkAsync("link.query", """{"peer":"b"}""")).GetProperty("link").TryGetProperty("ring_position", out _));
    }

    /// <summary>A TAP interface ipop0 (MAC 02:00:5e:00:53:aa) and links to b and c (connecting), as the owner.</summary>
    internal static async Task<TestClient> TapWithLinksAsync(ApiHarness h)
    {
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"name":"ipop0","mode":"tap"}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{B}}}""");
        await c.OkAsync("link.create", $$"""{"peer":"c","descriptor":{{C}}}""");
        return c;
    }

    private sealed class RecordingRouterFactory : IControllerRouterFactory
    {
        public RecordingRouter? Router { get; private set; }

        public IControllerRouter Create(VirtualInterfaceMode mode) => Router = new RecordingRouter();
    }

    /// <summary>A host's TAP router that records the positions it is given (link <c>null</c>: this node's).</summary>
    private sealed class RecordingRouter : IControllerRouter
    {
        public List<(ITincanLink? Link, ulong Position)> Positions { get; } = [];

        public List<ITincanLink> Removed { get; } = [];

        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;

        public void SetRoute(IPNetwork prefix, ITincanLink link) => throw new NotSupportedException();

        public bool RemoveRoute(IPNetwork prefix) => throw new NotSupportedException();

        public void SetMacRoute(PhysicalAddress mac, ITincanLink link)
        {
        }

        public bool RemoveMacRoute(PhysicalAddress mac) => true;

        public void RemoveRoutes(ITincanLink link) => Removed.Add(link);

        public void SetRingPosition(ulong position) => Positions.Add((null, position));

        public void SetRingPosition(ITincanLink link, ulong position) => Positions.Add((link, position));
    }

    private sealed class LegacyRouterFactory : IControllerRouterFactory
    {
        public IControllerRouter Create(VirtualInterfaceMode mode) => new LegacyRouter();
    }

    /// <summary>A host's router as written before ring positions: only the members IControllerRouter had then.</summary>
    private sealed class LegacyRouter : IControllerRouter
    {
        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;

        public void SetRoute(IPNetwork prefix, ITincanLink link) => throw new NotSupportedException();

        public bool RemoveRoute(IPNetwork prefix) => throw new NotSupportedException();

        public void SetMacRoute(PhysicalAddress mac, ITincanLink link)
        {
        }

        public bool RemoveMacRoute(PhysicalAddress mac) => true;

        public void RemoveRoutes(ITincanLink link)
        {
        }
    }
}
