using System.Net;
using System.Text.Json;

namespace Ipop.Tincan.Api.Tests;

/// <summary>Every operation's happy path against the fake Tincan, checked on the Tincan side as well as on the wire.</summary>
public sealed class OperationTests
{
    private static string Descriptor(FakeTincan t) => t.Descriptor.ToJson();

    [Fact]
    public async Task Version_reports_the_protocol_the_package_and_every_operation()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        JsonElement r = await c.OkAsync("version");
        Assert.Equal(1, r.GetProperty("protocol").GetInt32());
        Assert.Equal("1.0.0-rc.1", r.GetProperty("package").GetString());
        Assert.Equal(ControllerApiServer.OperationNamesForTests, r.GetProperty("ops").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public async Task Echo_returns_its_arguments_unchanged()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        JsonElement r = await c.OkAsync("echo", """{"text":"héllo","n":[1,2.5,null],"nested":{"ok":true}}""");
        Assert.Equal("""{"text":"héllo","n":[1,2.5,null],"nested":{"ok":true}}""", r.GetRawText());
    }

    [Fact]
    public async Task Interface_create_passes_every_setting_to_the_factory_and_attaches_a_router()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        JsonElement r = await c.OkAsync("interface.create", """{"name":"ipop7","mode":"tun","mtu":1380,"addresses":["198.19.0.1/16","2001:2::1/64"],"up":false}""");
        VirtualInterfaceOptions o = Assert.Single(h.Interfaces!.Created);
        Assert.Equal(("ipop7", VirtualInterfaceMode.Tun, 1380, false), (o.Name, o.Mode, o.Mtu, o.Up));
        Assert.Equal(["198.19.0.1/16", "2001:2::1/64"], o.Addresses.Select(a => a.ToString()));
        (IVirtualInterface nic, IPacketRouter router) = Assert.Single(h.Tincan.Attached);
        Assert.Same(h.Interfaces.Nics[0], nic);
        // The built-in TUN router's own table, so Tincan answers ICMP errors from the node's address (PrefixRouter.Table).
        Assert.IsType<RouteTable>(router);
        Assert.Equal("ipop7", r.GetProperty("interface").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("interface").GetProperty("mac").ValueKind);
    }

    [Fact]
    public async Task Tap_interface_gets_its_mac_and_a_switch()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        JsonElement r = await c.OkAsync("interface.create", """{"mode":"tap","mac":"02-00-5E-00-53-01"}""");
        Assert.Equal("02:00:5e:00:53:01", r.GetProperty("interface").GetProperty("mac").GetString());
        // The built-in TAP router's own switch, so Tincan forwards frames between members once ring.set gives positions.
        Assert.IsType<LearningSwitch>(h.Tincan.Attached[0].Router);
    }

    [Fact]
    public async Task Link_create_accepts_a_static_descriptor_as_the_in_process_api_does()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        LinkDescriptor remote = new FakeTincan(2).Descriptor with { CheckUsername = string.Empty, CheckPassword = string.Empty };

        await c.OkAsync("link.create", $$"""{"peer":"bob","descriptor":{{remote.ToJson()}}}""");

        (PeerId peer, LinkDescriptor created) = Assert.Single(h.Tincan.CreateLinkCalls);
        Assert.Equal("bob", peer.Value);
        Assert.True(created.IsStatic);
        Assert.Equal(remote.Candidates.AsEnumerable(), created.Candidates.AsEnumerable());
    }

    [Fact]
    public async Task Interface_remove_detaches_before_disposing_and_keeps_links_so_a_new_interface_can_route_to_them()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.1/24"]}""");
        await c.OkAsync("link.create", $$"""{"peer":"bob","descriptor":{{new FakeTincan(2).Descriptor.ToJson()}}}""");
        await c.OkAsync("route.set", """{"peer":"bob","prefix":"198.19.0.2/32"}""");

        await c.OkAsync("interface.remove");
        (IVirtualInterface detached, bool disposedBefore) = Assert.Single(h.Tincan.Detached);
        Assert.Same(h.Interfaces!.Nics[0], detached);
        Assert.False(disposedBefore, "the device was disposed before Tincan let go of it");
        Assert.True(h.Interfaces.Nics[0].Disposed);
        Assert.Null(h.Tincan.Current);
        Assert.Equal(0, (await c.OkAsync("route.list")).GetProperty("routes").GetArrayLength());
        Assert.Single(h.Tincan.Links);

        // Same name again: the fake Tincan, like the real one, refuses a second interface unless the first was detached.
        await c.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.1/24"]}""");
        Assert.Equal(2, h.Tincan.Attached.Count);
        Assert.Equal("ipop0", h.Interfaces.Nics[1].Name);
        await c.OkAsync("route.set", """{"peer":"bob","prefix":"198.19.0.2/32"}""");
        IPacketRouter router = h.Tincan.Current!.Value.Router;
        Assert.NotSame(h.Tincan.Attached[0].Router, router);
        Assert.Same(h.Tincan.Link("bob"), router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.2")).Link);
        Assert.False(h.Interfaces.Nics[1].Disposed);
    }

    [Fact]
    public async Task Interface_query_and_remove_follow_the_interface_life_cycle()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        Assert.Equal(JsonValueKind.Null, (await c.OkAsync("interface.query")).GetProperty("interface").ValueKind);
        await c.OkAsync("interface.create", """{"name":"ipop0"}""");
        Assert.Equal("ipop0", (await c.OkAsync("interface.query")).GetProperty("interface").GetProperty("name").GetString());
        Assert.True((await c.OkAsync("interface.remove")).GetProperty("removed").GetBoolean());
        Assert.True(h.Interfaces!.Nics[0].Disposed);
        Assert.Equal(JsonValueKind.Null, (await c.OkAsync("interface.query")).GetProperty("interface").ValueKind);
    }

    [Fact]
    public async Task Descriptor_get_returns_the_local_descriptor_as_an_object_that_parses_back()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        JsonElement r = await c.OkAsync("descriptor.get");
        Assert.Equal(JsonValueKind.Object, r.GetProperty("descriptor").ValueKind);
        LinkDescriptor parsed = LinkDescriptor.Parse(r.GetProperty("descriptor").GetRawText());
        Assert.Equal(h.Tincan.LocalKey, parsed.Key);
        Assert.Equal(h.Tincan.Descriptor.Candidates, parsed.Candidates);
    }

    [Fact]
    public async Task Link_create_authorizes_the_remote_key_for_the_peer()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        var remote = new FakeTincan(2);
        TestClient c = await h.ConnectAsync();
        JsonElement r = await c.OkAsync("link.create", $$"""{"peer":"bob@lab.test/ipop-1","descriptor":{{Descriptor(remote)}}}""");
        (PeerId peer, LinkDescriptor d) = Assert.Single(h.Tincan.CreateLinkCalls);
        Assert.Equal("bob@lab.test/ipop-1", peer.Value);
        Assert.Equal(remote.LocalKey, d.Key);
        Assert.Equal("connecting", r.GetProperty("link").GetProperty("state").GetString());
        Assert.Equal(remote.LocalKey.ToString(), r.GetProperty("link").GetProperty("peer_key").GetString());
    }

    [Fact]
    public async Task Link_create_also_accepts_the_descriptor_as_a_json_string()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        var remote = new FakeTincan(2);
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{JsonSerializer.Serialize(Descriptor(remote))}}}""");
        Assert.Equal(remote.LocalKey, h.Tincan.Link("b").PeerKey);
    }

    [Fact]
    public async Task Link_remove_revokes_the_link_and_drops_its_routes()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", "{}");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Descriptor(new FakeTincan(2))}}}""");
        await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");
        FakeLink link = h.Tincan.Link("b");
        Assert.True((await c.OkAsync("link.remove", """{"peer":"b"}""")).GetProperty("removed").GetBoolean());
        Assert.Empty(h.Tincan.Links);
        Assert.Equal(LinkFailureReason.Revoked, link.Status.Reason);
        Assert.Empty((await c.OkAsync("route.list")).GetProperty("routes").EnumerateArray());
        var router = (IPacketRouter)h.Tincan.Attached[0].Router;
        Assert.Equal(RouteDecision.Drop, router.RouteOutbound(Packets.Ipv4(from: "198.19.0.1", to: "198.19.0.2")));
    }

    [Fact]
    public async Task Link_query_reports_state_path_reason_detail_and_stats()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Descriptor(new FakeTincan(2))}}}""");
        await c.OkAsync("link.create", $$"""{"peer":"a","descriptor":{{Descriptor(new FakeTincan(3))}}}""");
        FakeLink b = h.Tincan.Link("b");
        b.Stats = new LinkStats { BytesSent = 1000, PacketsSent = 10, RoundTripTime = TimeSpan.FromMilliseconds(1.25), LocalCandidate = h.Tincan.Descriptor.Candidates[0] };
        b.SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.ChecksTimedOut, "2 pairs checked, all timed out"));
        JsonElement one = (await c.OkAsync("link.query", """{"peer":"b"}""")).GetProperty("link");
        Assert.Equal(("failed", "none", "checks_timed_out", "2 pairs checked, all timed out"), (one.GetProperty("state").GetString(), one.GetProperty("path").GetString(), one.GetProperty("reason").GetString(), one.GetProperty("detail").GetString()));
        Assert.Equal(1000, one.GetProperty("stats").GetProperty("bytes_sent").GetInt64());
        Assert.Equal(1.25, one.GetProperty("stats").GetProperty("rtt_ms").GetDouble());
        Assert.Equal("host", one.GetProperty("stats").GetProperty("local_candidate").GetProperty("type").GetString());
        JsonElement all = (await c.OkAsync("link.query")).GetProperty("links");
        Assert.Equal(["a", "b"], all.EnumerateArray().Select(l => l.GetProperty("peer").GetString()));
    }

    [Fact]
    public async Task Send_control_delivers_the_decoded_bytes_to_the_link()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Descriptor(new FakeTincan(2))}}}""");
        h.Tincan.Link("b").SetStatus(new LinkStatus(LinkState.Connected, LinkPath.Relayed, LinkFailureReason.None));
        JsonElement r = await c.OkAsync("link.send_control", """{"peer":"b","data":"aGVsbG8="}""");
        Assert.Equal(5, r.GetProperty("bytes").GetInt32());
        Assert.Equal("hello"u8.ToArray(), Assert.Single(h.Tincan.Link("b").SentControl));
    }

    [Fact]
    public async Task Route_set_programs_the_router_and_route_list_shows_it()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", "{}");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Descriptor(new FakeTincan(2))}}}""");
        await c.OkAsync("link.create", $$"""{"peer":"c","descriptor":{{Descriptor(new FakeTincan(3))}}}""");
        await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.0/16"}""");
        await c.OkAsync("route.set", """{"peer":"c","prefix":"198.19.0.3/32"}""");
        IPacketRouter router = h.Tincan.Attached[0].Router;
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.9.9")).Link);
        Assert.Same(h.Tincan.Link("c"), router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")).Link);
        JsonElement routes = (await c.OkAsync("route.list")).GetProperty("routes");
        Assert.Equal("""[{"prefix":"198.19.0.0/16","peer":"b","kind":"direct"},{"prefix":"198.19.0.3/32","peer":"c","kind":"direct"}]""", routes.GetRawText());
        await c.OkAsync("route.remove", """{"prefix":"198.19.0.3/32"}""");
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3")).Link);
    }

    [Fact]
    public async Task Route_set_with_a_mac_pins_a_switch_entry_on_a_tap_interface()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"mode":"tap"}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Descriptor(new FakeTincan(2))}}}""");
        JsonElement r = await c.OkAsync("route.set", """{"peer":"b","mac":"02:00:5E:00:53:0B"}""");
        Assert.Equal("""{"route":{"mac":"02:00:5e:00:53:0b","peer":"b","kind":"direct"}}""", r.GetRawText());
        IPacketRouter router = h.Tincan.Attached[0].Router;
        // The switch sends a station's frames to its link once the link is connected (until then it floods).
        h.Tincan.Link("b").SetStatus(new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
        Assert.Same(h.Tincan.Link("b"), router.RouteOutbound(Packets.Ethernet(to: [0x02, 0, 0x5e, 0, 0x53, 0x0b], from: [0x02, 0, 0x5e, 0, 0x53, 0xaa])).Link);
        await c.OkAsync("route.remove", """{"mac":"02:00:5e:00:53:0b"}""");
        Assert.Equal(RouteAction.Flood, router.RouteOutbound(Packets.Ethernet(to: [0x02, 0, 0x5e, 0, 0x53, 0x0b], from: [0x02, 0, 0x5e, 0, 0x53, 0xaa])).Action);
    }

    [Fact]
    public async Task Requests_on_one_connection_are_answered_in_order_even_when_pipelined()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.SendRawAsync(string.Concat(Enumerable.Range(1, 50).Select(i => $"{{\"v\":1,\"id\":{i},\"op\":\"echo\",\"args\":{{\"i\":{i}}}}}\n")));
        for (int i = 1; i <= 50; i++)
        {
            using JsonDocument doc = JsonDocument.Parse(await c.ReadResponseAsync());
            Assert.Equal(i, doc.RootElement.GetProperty("id").GetInt32());
            Assert.Equal(i, doc.RootElement.GetProperty("result").GetProperty("i").GetInt32());
        }
    }

    [Fact]
    public async Task Many_sequential_requests_are_answered_quickly()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("version");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 2000; i++)
        {
            await c.OkAsync("link.query");
        }

        watch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine($"2000 link.query round trips: {watch.Elapsed.TotalMicroseconds / 2000:F0} us each");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"2000 round trips took {watch.Elapsed}");
    }

    [Fact]
    public async Task Unknown_fields_and_crlf_line_ends_are_tolerated_and_string_ids_are_echoed()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.SendRawAsync("{\"v\":1,\"id\":\"req-7\",\"op\":\"version\",\"trace\":\"x\",\"args\":{\"future\":1}}\r\n");
        using JsonDocument doc = JsonDocument.Parse(await c.ReadResponseAsync());
        Assert.Equal("req-7", doc.RootElement.GetProperty("id").GetString());
        Assert.True(doc.RootElement.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Stopping_the_server_removes_the_interface_it_created()
    {
        ApiHarness h = await ApiHarness.StartAsync();
        try
        {
            TestClient c = await h.ConnectAsync();
            await c.OkAsync("interface.create", "{}");
        }
        finally
        {
            await h.DisposeAsync();
        }

        Assert.True(h.Interfaces!.Nics[0].Disposed);
    }
}

internal static class Packets
{
    public static byte[] Ipv4(string from, string to)
    {
        byte[] p = new byte[28];
        p[0] = 0x45;
        IPAddress.Parse(from).TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse(to).TryWriteBytes(p.AsSpan(16), out _);
        return p;
    }

    /// <summary>An IPv4 header a router forwards: version, length, hop limit and a valid checksum (RFC 791), protocol 253 (experimental), 8 zero bytes of payload.</summary>
    public static byte[] Ipv4WithTtl(string from, string to, byte ttl)
    {
        byte[] p = Ipv4(from, to);
        p[3] = (byte)p.Length;
        p[8] = ttl;
        p[9] = 253;
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += (uint)((p[i] << 8) | p[i + 1]);
        }

        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        ushort checksum = (ushort)~sum;
        p[10] = (byte)(checksum >> 8);
        p[11] = (byte)checksum;
        return p;
    }

    public static byte[] Ipv6(string from, string to)
    {
        byte[] p = new byte[48];
        p[0] = 0x60;
        IPAddress.Parse(from).TryWriteBytes(p.AsSpan(8), out _);
        IPAddress.Parse(to).TryWriteBytes(p.AsSpan(24), out _);
        return p;
    }

    public static byte[] Ethernet(byte[] to, byte[] from)
    {
        byte[] f = new byte[60];
        to.CopyTo(f, 0);
        from.CopyTo(f, 6);
        f[12] = 0x08;
        return f;
    }
}
