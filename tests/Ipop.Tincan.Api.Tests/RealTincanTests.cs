using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Api.Tests;

/// <summary>The API in front of real Tincan nodes on 127.0.0.1 (in-memory devices): what the fake Tincan cannot show.</summary>
public sealed class RealTincanTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Interface_remove_then_create_again_with_the_same_name_keeps_the_link_and_traffic_flows_into_the_new_device()
    {
        await using ApiNode alice = await ApiNode.StartAsync("alice");
        await using ApiNode bob = await ApiNode.StartAsync("bob");
        await alice.Client.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.1/24"]}""");
        await bob.Client.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.2/24"]}""");
        string aliceDescriptor = (await alice.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();
        string bobDescriptor = (await bob.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();
        await alice.Client.OkAsync("link.create", $$"""{"peer":"bob","descriptor":{{bobDescriptor}}}""");
        await bob.Client.OkAsync("link.create", $$"""{"peer":"alice","descriptor":{{aliceDescriptor}}}""");
        await alice.Client.OkAsync("route.set", """{"peer":"bob","prefix":"198.19.0.2/32"}""");
        await bob.Client.OkAsync("route.set", """{"peer":"alice","prefix":"198.19.0.1/32"}""");
        await WaitConnectedAsync(alice.Client, "bob");

        FakeNic aliceNic = alice.Interfaces.Nics.Single();
        FakeNic oldBobNic = bob.Interfaces.Nics.Single();
        byte[] ping = Packets.Ipv4("198.19.0.1", "198.19.0.2");
        aliceNic.Inject(ping);
        Assert.True(oldBobNic.Written.TryTake(out byte[]? delivered, Timeout));
        Assert.Equal(ping, delivered);

        Assert.True((await bob.Client.OkAsync("interface.remove")).GetProperty("removed").GetBoolean());
        Assert.True(oldBobNic.Disposed);
        Assert.Empty((await bob.Client.OkAsync("route.list")).GetProperty("routes").EnumerateArray());

        // The link outlives the interface; what it carries meanwhile is dropped, and never reaches the removed device.
        aliceNic.Inject(ping);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal("connected", (await bob.Client.OkAsync("link.query", """{"peer":"alice"}""")).GetProperty("link").GetProperty("state").GetString());

        JsonElement created = await bob.Client.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.2/24"]}""");
        Assert.Equal("ipop0", created.GetProperty("interface").GetProperty("name").GetString());
        await bob.Client.OkAsync("route.set", """{"peer":"alice","prefix":"198.19.0.1/32"}""");
        FakeNic newBobNic = bob.Interfaces.Nics[1];
        Assert.Equal("ipop0", newBobNic.Name);

        aliceNic.Inject(ping);
        Assert.True(newBobNic.Written.TryTake(out delivered, Timeout));
        Assert.Equal(ping, delivered);
        Assert.Empty(newBobNic.Written);
        byte[] pong = Packets.Ipv4("198.19.0.2", "198.19.0.1");
        newBobNic.Inject(pong);
        Assert.True(aliceNic.Written.TryTake(out delivered, Timeout));
        Assert.Equal(pong, delivered);

        Assert.Empty(oldBobNic.Written);
        Assert.Equal(0, oldBobNic.UsedAfterDispose);
        JsonElement stats = (await bob.Client.OkAsync("link.query", """{"peer":"alice"}""")).GetProperty("link").GetProperty("stats");
        Assert.Equal(1, stats.GetProperty("handshakes").GetInt64());
    }

    [Fact]
    public async Task Three_nodes_set_up_only_through_the_api_carry_a_packet_from_a_to_c_through_b_and_b_counts_it()
    {
        await using ApiNode a = await ApiNode.StartAsync("a");
        await using ApiNode b = await ApiNode.StartAsync("b");
        await using ApiNode c = await ApiNode.StartAsync("c");
        await a.Client.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.1/24"]}""");
        await b.Client.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.2/24"]}""");
        await c.Client.OkAsync("interface.create", """{"name":"ipop0","addresses":["198.19.0.3/24"]}""");
        string aDescriptor = (await a.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();
        string bDescriptor = (await b.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();
        string cDescriptor = (await c.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();

        // A chain: a-b and b-c are links, a and c are not; each end reaches the other through b.
        await a.Client.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{bDescriptor}}}""");
        await b.Client.OkAsync("link.create", $$"""{"peer":"a","descriptor":{{aDescriptor}}}""");
        await b.Client.OkAsync("link.create", $$"""{"peer":"c","descriptor":{{cDescriptor}}}""");
        await c.Client.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{bDescriptor}}}""");
        await a.Client.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");
        await a.Client.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.3/32","kind":"forward"}""");
        await a.Client.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.0/24","kind":"forward"}""");
        await a.Client.OkAsync("route.set", """{"prefix":"198.19.0.1/32","kind":"local"}""");
        await b.Client.OkAsync("route.set", """{"peer":"a","prefix":"198.19.0.1/32"}""");
        await b.Client.OkAsync("route.set", """{"peer":"c","prefix":"198.19.0.3/32"}""");
        await b.Client.OkAsync("route.set", """{"prefix":"198.19.0.2/32","kind":"local"}""");
        await b.Client.OkAsync("route.set", """{"prefix":"198.19.0.0/24","kind":"unreachable"}""");
        await c.Client.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");
        await c.Client.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.1/32","kind":"forward"}""");
        await c.Client.OkAsync("route.set", """{"prefix":"198.19.0.3/32","kind":"local"}""");
        await WaitConnectedAsync(a.Client, "b");
        await WaitConnectedAsync(c.Client, "b");
        Assert.Equal(2, (await b.Client.OkAsync("link.query")).GetProperty("links").GetArrayLength());
        FakeNic aNic = a.Interfaces.Nics.Single();
        FakeNic cNic = c.Interfaces.Nics.Single();

        aNic.Inject(Packets.Ipv4WithTtl("198.19.0.1", "198.19.0.3", 64));
        Assert.True(cNic.Written.TryTake(out byte[]? atC, Timeout), "a's packet for c did not arrive at c");
        Assert.Equal(Packets.Ipv4WithTtl("198.19.0.1", "198.19.0.3", 63), atC);
        cNic.Inject(Packets.Ipv4WithTtl("198.19.0.3", "198.19.0.1", 64));
        Assert.True(aNic.Written.TryTake(out byte[]? atA, Timeout), "c's answer did not arrive at a");
        Assert.Equal(Packets.Ipv4WithTtl("198.19.0.3", "198.19.0.1", 63), atA);

        // b forwarded one packet each way: counted on the link it went out on.
        JsonElement bToC = (await ForwardedCountedAsync(b.Client, "c")).GetProperty("stats");
        JsonElement bToA = (await ForwardedCountedAsync(b.Client, "a")).GetProperty("stats");
        Assert.Equal((1, 28), (bToC.GetProperty("packets_forwarded").GetInt64(), bToC.GetProperty("bytes_forwarded").GetInt64()));
        Assert.Equal((1, 28), (bToA.GetProperty("packets_forwarded").GetInt64(), bToA.GetProperty("bytes_forwarded").GetInt64()));
        // b's own routes are direct (it holds both links); route.list shows how it is set up to forward.
        Assert.Equal(
            """[{"prefix":"198.19.0.0/24","peer":null,"kind":"unreachable"},{"prefix":"198.19.0.1/32","peer":"a","kind":"direct"},{"prefix":"198.19.0.2/32","peer":null,"kind":"local"},{"prefix":"198.19.0.3/32","peer":"c","kind":"direct"}]""",
            (await b.Client.OkAsync("route.list")).GetProperty("routes").GetRawText());

        // The route-level count is the originator's: a sent one packet for c through its forward route.
        JsonElement aRoutes = (await a.Client.OkAsync("route.list")).GetProperty("routes");
        Assert.Equal(
            """[{"prefix":"198.19.0.0/24","peer":"b","kind":"forward","forwarded_packets":0},{"prefix":"198.19.0.1/32","peer":null,"kind":"local"},{"prefix":"198.19.0.2/32","peer":"b","kind":"direct"},{"prefix":"198.19.0.3/32","peer":"b","kind":"forward","forwarded_packets":1}]""",
            aRoutes.GetRawText());

        // An address in the subnet that no member holds: b, the hop that knows, answers with ICMP unreachable from its own address.
        aNic.Inject(Packets.Ipv4WithTtl("198.19.0.1", "198.19.0.9", 64));
        Assert.True(aNic.Written.TryTake(out byte[]? answer, Timeout), "no ICMP answer for 198.19.0.9");
        Assert.Equal((1, 3), (answer[9], answer[20]));
        Assert.Equal("198.19.0.2", new IPAddress(answer.AsSpan(12, 4)).ToString());
        Assert.Equal("198.19.0.1", new IPAddress(answer.AsSpan(16, 4)).ToString());
        Assert.Equal(1, (await a.Client.OkAsync("route.list")).GetProperty("routes")[0].GetProperty("forwarded_packets").GetInt64());
        Assert.Empty(cNic.Written);
    }

    [Fact]
    public async Task Three_tap_nodes_given_ring_positions_through_the_api_carry_a_broadcast_from_a_to_c_once_and_c_answers_a_through_b()
    {
        await using ApiNode a = await ApiNode.StartAsync("a");
        await using ApiNode b = await ApiNode.StartAsync("b");
        await using ApiNode c = await ApiNode.StartAsync("c");
        await TapChainAsync(a, b, c);
        FakeNic aNic = a.Interfaces.Nics.Single();
        FakeNic bNic = b.Interfaces.Nics.Single();
        FakeNic cNic = c.Interfaces.Nics.Single();
        byte[] aMac = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x0a];
        byte[] cMac = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x0c];

        // An ARP request, say: b delivers it and passes it on to c (inside b's range up to a), c's range covers no one.
        byte[] broadcast = Packets.Ethernet([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], aMac);
        broadcast[20] = 1;
        aNic.Inject(broadcast);
        Assert.True(cNic.Written.TryTake(out byte[]? atC, Timeout), "a's broadcast did not arrive at c");
        Assert.Equal(broadcast, atC);
        Assert.True(bNic.Written.TryTake(out byte[]? atB, Timeout), "a's broadcast did not arrive at b");
        Assert.Equal(broadcast, atB);
        Assert.False(cNic.Written.TryTake(out _, TimeSpan.FromMilliseconds(300)), "c received a's broadcast twice");
        Assert.Empty(aNic.Written);

        // The reply: c learned a's MAC through b from the flood copy, so it goes to b, which passes it on to a.
        byte[] reply = Packets.Ethernet(aMac, cMac);
        reply[20] = 2;
        cNic.Inject(reply);
        Assert.True(aNic.Written.TryTake(out byte[]? atA, Timeout), "c's reply did not arrive at a");
        Assert.Equal(reply, atA);
        Assert.Empty(bNic.Written);

        // b forwarded one frame each way (the flood copy to c, the reply to a), counted with the 12-byte shim.
        JsonElement bToC = await ForwardedCountedAsync(b.Client, "c");
        JsonElement bToA = await ForwardedCountedAsync(b.Client, "a");
        Assert.Equal((1, 72), (bToC.GetProperty("stats").GetProperty("packets_forwarded").GetInt64(), bToC.GetProperty("stats").GetProperty("bytes_forwarded").GetInt64()));
        Assert.Equal((1, 72), (bToA.GetProperty("stats").GetProperty("packets_forwarded").GetInt64(), bToA.GetProperty("stats").GetProperty("bytes_forwarded").GetInt64()));
        Assert.Equal("9000000000000000", bToC.GetProperty("ring_position").GetString());
        Assert.Equal("5000000000000000", (await b.Client.OkAsync("interface.query")).GetProperty("interface").GetProperty("ring_position").GetString());
    }

    [Fact]
    public async Task Three_tap_nodes_given_member_routes_through_the_api_carry_a_unicast_from_a_to_c_through_b_without_a_flood()
    {
        await using ApiNode a = await ApiNode.StartAsync("a");
        await using ApiNode b = await ApiNode.StartAsync("b");
        await using ApiNode c = await ApiNode.StartAsync("c");
        await TapChainAsync(a, b, c);
        // Each end's member route for the other's announced MAC: through b, the next hop on the ring.
        Assert.Equal(
            """{"route":{"mac":"02:00:5e:00:53:0c","peer":"b","kind":"forward"}}""",
            (await a.Client.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:0c","kind":"forward"}""")).GetRawText());
        await c.Client.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:0a","kind":"forward"}""");
        FakeNic aNic = a.Interfaces.Nics.Single();
        FakeNic bNic = b.Interfaces.Nics.Single();
        FakeNic cNic = c.Interfaces.Nics.Single();
        byte[] aMac = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x0a];
        byte[] cMac = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x0c];

        // No frame from c has taught a where c is: without the route this would be an unknown unicast, flooded to b's
        // interface too. With it, the frame goes to b as a forwarded frame, and b passes it on to c only.
        byte[] toC = Packets.Ethernet(cMac, aMac);
        aNic.Inject(toC);
        Assert.True(cNic.Written.TryTake(out byte[]? atC, Timeout), "a's frame did not arrive at c");
        Assert.Equal(toC, atC);

        byte[] toA = Packets.Ethernet(aMac, cMac);
        cNic.Inject(toA);
        Assert.True(aNic.Written.TryTake(out byte[]? atA, Timeout), "c's frame did not arrive at a");
        Assert.Equal(toA, atA);
        Assert.Empty(bNic.Written);
        Assert.Empty(cNic.Written);

        JsonElement bToC = await ForwardedCountedAsync(b.Client, "c");
        Assert.Equal(1, bToC.GetProperty("stats").GetProperty("packets_forwarded").GetInt64());
        Assert.Equal(
            """[{"mac":"02:00:5e:00:53:0b","peer":"b","kind":"direct"},{"mac":"02:00:5e:00:53:0c","peer":"b","kind":"forward"}]""",
            (await a.Client.OkAsync("route.list")).GetProperty("routes").GetRawText());
    }

    /// <summary>
    /// A chain of tap nodes on the ring a (1...) -> b (5...) -> c (9...), set up through the API: a-b and b-c are links
    /// (each pinned to the MAC of the node at its other end, 02:00:5e:00:53:0a/0b/0c), a and c are not; returns once both
    /// links are connected.
    /// </summary>
    private static async Task TapChainAsync(ApiNode a, ApiNode b, ApiNode c)
    {
        await a.Client.OkAsync("interface.create", """{"name":"ipop0","mode":"tap","mac":"02:00:5e:00:53:0a"}""");
        await b.Client.OkAsync("interface.create", """{"name":"ipop0","mode":"tap","mac":"02:00:5e:00:53:0b"}""");
        await c.Client.OkAsync("interface.create", """{"name":"ipop0","mode":"tap","mac":"02:00:5e:00:53:0c"}""");
        string aDescriptor = (await a.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();
        string bDescriptor = (await b.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();
        string cDescriptor = (await c.Client.OkAsync("descriptor.get")).GetProperty("descriptor").GetRawText();

        await a.Client.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{bDescriptor}}}""");
        await b.Client.OkAsync("link.create", $$"""{"peer":"a","descriptor":{{aDescriptor}}}""");
        await b.Client.OkAsync("link.create", $$"""{"peer":"c","descriptor":{{cDescriptor}}}""");
        await c.Client.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{bDescriptor}}}""");
        await a.Client.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:0b"}""");
        await b.Client.OkAsync("route.set", """{"peer":"a","mac":"02:00:5e:00:53:0a"}""");
        await b.Client.OkAsync("route.set", """{"peer":"c","mac":"02:00:5e:00:53:0c"}""");
        await c.Client.OkAsync("route.set", """{"peer":"b","mac":"02:00:5e:00:53:0b"}""");
        await a.Client.OkAsync("ring.set", """{"peer":"b","position":"5000000000000000"}""");
        await b.Client.OkAsync("ring.set", """{"peer":"a","position":"1000000000000000"}""");
        await b.Client.OkAsync("ring.set", """{"peer":"c","position":"9000000000000000"}""");
        await c.Client.OkAsync("ring.set", """{"peer":"b","position":"5000000000000000"}""");
        await a.Client.OkAsync("ring.set", """{"position":"1000000000000000"}""");
        await b.Client.OkAsync("ring.set", """{"position":"5000000000000000"}""");
        await c.Client.OkAsync("ring.set", """{"position":"9000000000000000"}""");
        await WaitConnectedAsync(a.Client, "b");
        await WaitConnectedAsync(c.Client, "b");
    }

    /// <summary>
    /// The link to <paramref name="peer"/> once it has counted a forward. A hop counts after its send returns, so the
    /// packet can arrive before the count moves; querying right after delivery would race on a busy machine.
    /// </summary>
    private static async Task<JsonElement> ForwardedCountedAsync(TestClient client, string peer)
    {
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            JsonElement link = (await client.OkAsync("link.query", $$"""{"peer":"{{peer}}"}""")).GetProperty("link");
            if (link.GetProperty("stats").GetProperty("packets_forwarded").GetInt64() > 0 || DateTime.UtcNow > deadline)
            {
                return link;
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static async Task WaitConnectedAsync(TestClient client, string peer)
    {
        DateTime deadline = DateTime.UtcNow + Timeout;
        while ((await client.OkAsync("link.query", $$"""{"peer":"{{peer}}"}""")).GetProperty("link").GetProperty("state").GetString() != "connected")
        {
            Assert.True(DateTime.UtcNow < deadline, $"link to {peer} did not connect in time");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>A real Tincan node on 127.0.0.1 served by an API server on a private socket, with one connected client.</summary>
    private sealed class ApiNode : IAsyncDisposable
    {
        private readonly string _directory;

        private ApiNode(string directory, ITincan tincan, ControllerApiServer server, FakeInterfaceFactory interfaces, TestClient client)
        {
            _directory = directory;
            Tincan = tincan;
            Server = server;
            Interfaces = interfaces;
            Client = client;
        }

        public ITincan Tincan { get; }

        public ControllerApiServer Server { get; }

        public FakeInterfaceFactory Interfaces { get; }

        public TestClient Client { get; }

        public static async Task<ApiNode> StartAsync(string name)
        {
            string directory = Directory.CreateTempSubdirectory($"ipop-api-{name}-").FullName;
            ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
            var interfaces = new FakeInterfaceFactory();
            var server = new ControllerApiServer(Options.Create(new ControllerApiOptions { SocketPath = Path.Combine(directory, "tincan.sock") }), tincan, interfaces: interfaces);
            try
            {
                await tincan.StartAsync(TestContext.Current.CancellationToken);
                await server.StartAsync(TestContext.Current.CancellationToken);
                return new ApiNode(directory, tincan, server, interfaces, await TestClient.ConnectAsync(server.SocketPath));
            }
            catch
            {
                await server.DisposeAsync();
                await tincan.DisposeAsync();
                Directory.Delete(directory, recursive: true);
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Server.DisposeAsync();
            await Tincan.DisposeAsync();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
