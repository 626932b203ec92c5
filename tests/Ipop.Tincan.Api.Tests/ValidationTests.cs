using System.Text.Json;

namespace Ipop.Tincan.Api.Tests;

/// <summary>Every argument check answers invalid_args (or the envelope's own code) with a message that names the field.</summary>
public sealed class ValidationTests
{
    private static readonly string Bob = new FakeTincan(2).Descriptor.ToJson();

    public static TheoryData<string, string, string> InvalidArgs => new()
    {
        { "interface.create", """{"name":"this-name-is-too-long"}""", "args.name: expected an interface name of 1..15 characters from [A-Za-z0-9._-] (Linux IFNAMSIZ), got 'this-name-is-too-long'." },
        { "interface.create", """{"name":"a/b"}""", "args.name: expected an interface name of 1..15 characters from [A-Za-z0-9._-] (Linux IFNAMSIZ), got 'a/b'." },
        { "interface.create", """{"name":7}""", "args.name: expected an interface name of 1..15 characters from [A-Za-z0-9._-], got the number 7." },
        { "interface.create", """{"mode":"tunnel"}""", "args.mode: expected \"tun\" or \"tap\", got 'tunnel'." },
        { "interface.create", """{"mtu":"1400"}""", "args.mtu: expected an integer between 576 and 65535, got the string '1400'." },
        { "interface.create", """{"mtu":1400.5}""", "args.mtu: expected an integer between 576 and 65535, got the number 1400.5." },
        { "interface.create", """{"addresses":"198.19.0.1/24"}""", "args.addresses: expected an array of at most 16 strings (an address with prefix length such as 198.19.0.1/16), got the string '198.19.0.1/24'." },
        { "interface.create", """{"addresses":[5]}""", "args.addresses[0]: expected an address with prefix length such as 198.19.0.1/16, got the number 5." },
        { "interface.create", """{"addresses":["198.19.0.1/33"]}""", "args.addresses[0]: expected an address with prefix length such as 198.19.0.1/16 or 2001:2::1/64, got '198.19.0.1/33'." },
        { "interface.create", """{"mac":"02:00:5e:00:53:01"}""", "args.mac: only a tap interface has a MAC address; remove 'mac' or set \"mode\":\"tap\"." },
        { "interface.create", """{"mode":"tap","mac":"01:00:5e:00:53:01"}""", "args.mac: expected a unicast MAC address such as 02:00:5e:00:53:01, got '01:00:5e:00:53:01'." },
        { "interface.create", """{"mode":"tap","mac":"02:00:5e:00:53"}""", "args.mac: expected a unicast MAC address such as 02:00:5e:00:53:01, got '02:00:5e:00:53'." },
        { "interface.create", """{"up":"yes"}""", "args.up: expected true or false, got the string 'yes'." },
        { "link.create", """{"descriptor":{}}""", "args.peer: expected a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a), got nothing." },
        { "link.create", """{"peer":" ","descriptor":{}}""", "args.peer: expected a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a), got ' '." },
        { "link.create", """{"peer":"a\u0007b","descriptor":{}}""", "args.peer: expected a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a), got 'a\ab'." },
        { "link.create", """{"peer":"b"}""", "args.descriptor: expected the peer's link descriptor (the object descriptor.get returns on the peer, or that object as a JSON string), got nothing." },
        { "link.create", """{"peer":"b","descriptor":[1]}""", "args.descriptor: expected the peer's link descriptor (the object descriptor.get returns on the peer, or that object as a JSON string), got an array." },
        { "link.create", """{"peer":"b","descriptor":"{"}""", "args.descriptor: Link descriptor is not valid JSON: Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed. LineNumber: 0 | BytePositionInLine: 1." },
        { "link.send_control", """{"peer":"b","data":"***"}""", "args.data: expected the message as standard base64 of at least one byte, got '***'." },
        { "link.send_control", """{"peer":"b","data":""}""", "args.data: expected the message as standard base64 of at least one byte, got ''." },
        { "route.set", """{"peer":"b"}""", "args.prefix: expected a prefix such as 198.19.0.2/32 (tun interface), or give args.mac such as 02:00:5e:00:53:01 (tap interface); got neither." },
        { "route.set", """{"peer":"b","prefix":"198.19.0.2/32","mac":"02:00:5e:00:53:01"}""", "args: give either 'prefix' (tun) or 'mac' (tap), not both." },
        { "route.set", """{"peer":"b","prefix":"198.19.0.1/16"}""", "args.prefix: expected a prefix with zero host bits such as 198.19.0.2/32, 198.19.0.0/16 or 2001:2::/64, got '198.19.0.1/16'." },
        { "route.set", """{"peer":"b","prefix":"198.19.0.2"}""", "args.prefix: expected a prefix with zero host bits such as 198.19.0.2/32, 198.19.0.0/16 or 2001:2::/64, got '198.19.0.2'." },
        { "route.set", """{"peer":"b","mac":"02:00:5e:00:53:01"}""", "args.mac: interface ipop0 is a tun interface, which routes by IP prefix; use args.prefix." },
        { "events.subscribe", "{}", "args.kinds: expected an array of event kinds from link_state, control_message, stats, log (empty to unsubscribe), got nothing." },
        { "events.subscribe", """{"kinds":["stats"],"stats_interval_ms":5}""", "args.stats_interval_ms: expected an integer between 100 and 3600000, got the number 5." },
        { "log.set_level", """{"level":"loud"}""", "args.level: expected one of trace, debug, information, warning, error, critical, none, got 'loud'." },
        { "log.set_level", "{}", "args.level: expected one of trace, debug, information, warning, error, critical, none, got nothing." },
    };

    [Theory]
    [MemberData(nameof(InvalidArgs))]
    public async Task Invalid_arguments_are_named_in_the_error(string op, string args, string message)
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", """{"name":"ipop0"}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Bob}}}""");
        h.Tincan.Link("b").SetStatus(new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
        if (op == "interface.create")
        {
            await c.OkAsync("interface.remove");
        }

        Assert.Equal(message, await c.FailAsync(op, args, "invalid_args"));
    }

    [Fact]
    public async Task A_descriptor_with_this_nodes_own_key_is_refused()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        string message = await c.FailAsync("link.create", $$"""{"peer":"me","descriptor":{{h.Tincan.Descriptor.ToJson()}}}""", "invalid_args");
        Assert.Equal("args.descriptor.key: is this node's own key; pass the descriptor that descriptor.get returned on the peer.", message);
        Assert.Empty(h.Tincan.CreateLinkCalls);
    }

    [Theory]
    [InlineData("""{"v":1,"id":1.5,"op":"version"}""", "invalid_request", "Field 'id': expected an integer or a string of at most 256 characters, got the number 1.5.")]
    [InlineData("""{"v":1,"id":[1],"op":"version"}""", "invalid_request", "Field 'id': expected an integer or a string of at most 256 characters, got an array.")]
    [InlineData("""{"id":1,"op":"version"}""", "invalid_request", "Field 'v' is required: the protocol version, 1.")]
    [InlineData("""{"v":"1","id":1,"op":"version"}""", "unsupported_version", "Field 'v': this server speaks protocol version 1, got the string '1'.")]
    [InlineData("""{"v":1,"id":1}""", "invalid_request", "Field 'op': expected the operation name as a string, got nothing.")]
    [InlineData("""{"v":1,"id":1,"op":3}""", "invalid_request", "Field 'op': expected the operation name as a string, got the number 3.")]
    [InlineData("""[]""", "invalid_request", "A request must be a JSON object such as {\"v\":1,\"id\":1,\"op\":\"version\"}.")]
    public async Task Envelope_errors_name_the_field(string line, string code, string message)
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        using JsonDocument doc = JsonDocument.Parse(await c.CallLineAsync(line));
        Assert.Equal(code, doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(message, doc.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Recreating_a_link_moves_its_routes_to_the_new_link_object()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("interface.create", "{}");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Bob}}}""");
        await c.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");
        FakeLink old = h.Tincan.Link("b");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{Bob}}}""");
        FakeLink fresh = h.Tincan.Link("b");
        Assert.NotSame(old, fresh);
        Assert.Same(fresh, h.Tincan.Attached[0].Router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.2")).Link);
    }
}
