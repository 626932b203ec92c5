using System.Net;
using System.Text;
using Ipop.Tincan.Api.Internal;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Api.Tests;

/// <summary>Records a conversation with the server exactly as it went over the wire: "&gt;" sent, "&lt;" received, "#" notes.</summary>
internal sealed class Transcript(TestClient client)
{
    private readonly StringBuilder _text = new();

    public TestClient Client { get; set; } = client;

    public async Task SendAsync(string line)
    {
        _text.Append("> ").Append(line).Append('\n');
        await Client.SendLineAsync(line);
    }

    public async Task ReceiveAsync()
    {
        string line = await Client.ReadLineAsync() ?? throw new IOException("The server closed the connection.");
        _text.Append("< ").Append(line).Append('\n');
    }

    public async Task CallAsync(string line)
    {
        await SendAsync(line);
        await ReceiveAsync();
    }

    public void Note(string text) => _text.Append("# ").Append(text).Append('\n');

    public void Received(string line) => _text.Append("< ").Append(line).Append('\n');

    public override string ToString() => _text.ToString();
}

/// <summary>
/// One scenario per operation, event and error code, run against a fake Tincan whose keys, candidates and
/// stats are fixed, so each transcript is byte-for-byte stable. docs/controller-api.md embeds them.
/// </summary>
internal static class Scenarios
{
    public const string Bob = "bob@lab.test/ipop-2";
    public static readonly string BobDescriptor = new FakeTincan(2).Descriptor.ToJson();

    public static readonly IReadOnlyDictionary<string, Func<ApiHarness, Transcript, Task>> All = new Dictionary<string, Func<ApiHarness, Transcript, Task>>(StringComparer.Ordinal)
    {
        ["version"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"version"}"""),
        ["echo"] = (h, t) => t.CallAsync("""{"v":1,"id":"ping-1","op":"echo","args":{"hello":"world","n":[1,2]}}"""),
        ["session.claim"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"session.claim"}"""),
        ["session.release"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"session.claim"}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"session.release"}""");
        },
        ["interface.create"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","mode":"tun","mtu":1400,"addresses":["198.19.0.1/24","2001:2:0:1::1/64"]}}"""),
        ["interface.create.tap"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","mode":"tap","mtu":1400,"addresses":["198.19.0.1/24"],"mac":"02:00:5e:00:53:01"}}"""),
        ["interface.query"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.query"}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"interface.create","args":{"name":"ipop0","addresses":["198.19.0.1/24"]}}""");
            await t.CallAsync("""{"v":1,"id":3,"op":"interface.query"}""");
        },
        ["interface.remove"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0"}}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"interface.remove"}""");
            await t.CallAsync("""{"v":1,"id":3,"op":"interface.create","args":{"name":"ipop0","mode":"tap"}}""");
        },
        ["descriptor.get"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"descriptor.get"}"""),
        ["link.create"] = (h, t) => t.CallAsync($$$"""{"v":1,"id":1,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}"),
        ["link.remove"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.remove","args":{"peer":"{{{Bob}}}"}}""");
        },
        ["link.query"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            ConnectBob(h);
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.query","args":{"peer":"{{{Bob}}}"}}""");
        },
        ["link.query.all"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            ConnectBob(h);
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"carol@lab.test/ipop-3","descriptor":""" + new FakeTincan(3).Descriptor.ToJson() + "}}");
            h.Tincan.Link("carol@lab.test/ipop-3").SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.ChecksTimedOut, "4 pairs checked, all timed out; TURN 198.18.0.3:3478 refused credentials"));
            await t.CallAsync("""{"v":1,"id":3,"op":"link.query"}""");
        },
        ["link.send_control"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            ConnectBob(h);
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.send_control","args":{"peer":"{{{Bob}}}","data":"eyJ0eXBlIjoiaGVsbG8ifQ=="}}""");
        },
        ["route.set"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","addresses":["198.19.0.1/24"]}}""");
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            await t.CallAsync($$$"""{"v":1,"id":3,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.2/32"}}""");
        },
        ["route.set.mac"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","mode":"tap"}}""");
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            await t.CallAsync($$$"""{"v":1,"id":3,"op":"route.set","args":{"peer":"{{{Bob}}}","mac":"02:00:5e:00:53:02"}}""");
        },
        ["route.remove"] = async (h, t) =>
        {
            await RouteToBobAsync(t);
            await t.CallAsync("""{"v":1,"id":4,"op":"route.remove","args":{"prefix":"198.19.0.2/32"}}""");
        },
        ["route.list"] = async (h, t) =>
        {
            await RouteToBobAsync(t);
            await t.CallAsync($$$"""{"v":1,"id":4,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"2001:2:0:1::2/128"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"route.list"}""");
        },
        ["route.set.forward"] = async (h, t) =>
        {
            await RouteToBobAsync(t);
            t.Note("carol (198.19.0.3) has no link to this node; bob, who has one to her, passes her packets on");
            await t.CallAsync($$$"""{"v":1,"id":4,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.3/32","kind":"forward"}}""");
        },
        ["route.set.local"] = async (h, t) =>
        {
            await RouteToBobAsync(t);
            await t.CallAsync("""{"v":1,"id":4,"op":"route.set","args":{"prefix":"198.19.0.1/32","kind":"local"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"route.set","args":{"prefix":"198.19.0.0/24","kind":"unreachable"}}""");
        },
        ["route.list.forward"] = async (h, t) =>
        {
            await RouteToBobAsync(t);
            await t.CallAsync($$$"""{"v":1,"id":4,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.3/32","kind":"forward"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"route.set","args":{"prefix":"198.19.0.1/32","kind":"local"}}""");
            t.Note("the kernel sends 3 packets for carol (198.19.0.3) to the interface");
            IPacketRouter router = h.Tincan.Current!.Value.Router;
            for (int i = 0; i < 3; i++)
            {
                router.RouteOutbound(Packets.Ipv4("198.19.0.1", "198.19.0.3"));
            }

            await t.CallAsync("""{"v":1,"id":6,"op":"route.list"}""");
        },
        ["route.set.kind_errors"] = async (h, t) =>
        {
            await RouteToBobAsync(t);
            await t.CallAsync("""{"v":1,"id":4,"op":"route.set","args":{"prefix":"198.19.0.3/32","kind":"forward"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"route.set","args":{"prefix":"198.19.0.0/24","kind":"local"}}""");
            await t.CallAsync($$$"""{"v":1,"id":6,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.0/24","kind":"unreachable"}}""");
            await t.CallAsync($$$"""{"v":1,"id":7,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.3/32","kind":"relay"}}""");
            await t.CallAsync("""{"v":1,"id":8,"op":"interface.remove"}""");
            await t.CallAsync("""{"v":1,"id":9,"op":"interface.create","args":{"name":"ipop0","mode":"tap"}}""");
            await t.CallAsync("""{"v":1,"id":10,"op":"route.set","args":{"mac":"02:00:5e:00:53:03","kind":"local"}}""");
            await t.CallAsync($$$"""{"v":1,"id":11,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.3/32","kind":"forward"}}""");
        },
        ["route.set.mac_forward"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","mode":"tap","mac":"02:00:5e:00:53:01"}}""");
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            await t.CallAsync($$$"""{"v":1,"id":3,"op":"route.set","args":{"peer":"{{{Bob}}}","mac":"02:00:5e:00:53:02"}}""");
            t.Note("carol (02:00:5e:00:53:03) has no link to this node; bob, the next hop towards her on the ring, passes her frames on");
            await t.CallAsync($$$"""{"v":1,"id":4,"op":"route.set","args":{"peer":"{{{Bob}}}","mac":"02:00:5e:00:53:03","kind":"forward"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"route.list"}""");
            await t.CallAsync($$$"""{"v":1,"id":6,"op":"route.set","args":{"peer":"{{{Bob}}}","mac":"02:00:5e:00:53:01","kind":"forward"}}""");
        },
        ["ring.set"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","mode":"tap","mac":"02:00:5e:00:53:01"}}""");
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            t.Note("positions: the first 8 bytes of SHA-256 of each member id, which the controller computes; bob follows this node on the ring");
            await t.CallAsync($$$"""{"v":1,"id":3,"op":"ring.set","args":{"peer":"{{{Bob}}}","position":"9a4c11e2d07b3f58"}}""");
            await t.CallAsync("""{"v":1,"id":4,"op":"ring.set","args":{"position":"3f1b8c07aa52e916"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"interface.query"}""");
            await t.CallAsync($$$"""{"v":1,"id":6,"op":"link.query","args":{"peer":"{{{Bob}}}"}}""");
        },
        ["ring.set.errors"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"ring.set","args":{"position":"3f1b8c07aa52e916"}}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"interface.create","args":{"name":"ipop0","mode":"tap"}}""");
            await t.CallAsync("""{"v":1,"id":3,"op":"ring.set","args":{"position":4547382213310867734}}""");
            await t.CallAsync("""{"v":1,"id":4,"op":"ring.set","args":{"position":"3f1b8c07"}}""");
            await t.CallAsync("""{"v":1,"id":5,"op":"ring.set","args":{"peer":"carol@lab.test/ipop-3","position":"c2d4e6f801234567"}}""");
            await t.CallAsync("""{"v":1,"id":6,"op":"interface.remove"}""");
            await t.CallAsync("""{"v":1,"id":7,"op":"interface.create","args":{"name":"ipop0","addresses":["198.19.0.1/24"]}}""");
            await t.CallAsync("""{"v":1,"id":8,"op":"ring.set","args":{"position":"3f1b8c07aa52e916"}}""");
        },
        ["events.subscribe"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"events.subscribe","args":{"kinds":["link_state","control_message","stats"],"stats_interval_ms":10000}}"""),
        ["log.set_level"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"log.set_level","args":{"level":"debug"}}"""),

        ["event.link_state"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"events.subscribe","args":{"kinds":["link_state"]}}""");
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            t.Note("Tincan: the checks succeed through the NAT mappings, then the peer stops answering");
            h.Tincan.Link(Bob).SetStatus(new LinkStatus(LinkState.Connected, LinkPath.DirectServerReflexive, LinkFailureReason.None));
            await t.ReceiveAsync();
            h.Tincan.Link(Bob).SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable, "no keepalive answered for 15 s on any path"));
            await t.ReceiveAsync();
        },
        ["event.control_message"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"events.subscribe","args":{"kinds":["control_message"]}}""");
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            t.Note("Tincan: Bob's controller sends {\"type\":\"hello\"} over the link");
            h.Tincan.DeliverControl(Bob, "{\"type\":\"hello\"}"u8.ToArray());
            await t.ReceiveAsync();
        },
        ["event.stats"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            ConnectBob(h);
            await t.CallAsync("""{"v":1,"id":2,"op":"events.subscribe","args":{"kinds":["stats"],"stats_interval_ms":5000}}""");
            t.Note("5 seconds later");
            h.Time.Advance(TimeSpan.FromSeconds(5));
            await t.ReceiveAsync();
        },
        ["event.log"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"events.subscribe","args":{"kinds":["log"]}}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"log.set_level","args":{"level":"warning"}}""");
            t.Note("the host logs a warning in category Ipop.Tincan.TincanNode");
            ScenarioLog.TurnRefused(h.Logs.CreateLogger("Ipop.Tincan.TincanNode"), "198.18.0.3:3478");
            await t.ReceiveAsync();
        },
        ["event.events_dropped"] = (h, t) =>
        {
            t.Note("the client did not read while 1500 events were raised; 1187 did not fit in its queue");
            t.Received(Encoding.UTF8.GetString(Wire.Event("events_dropped", new EventsDroppedEvent(1187, 1187), ApiJsonContext.Wire.EventsDroppedEvent)).TrimEnd('\n'));
            return Task.CompletedTask;
        },

        ["error.malformed_json"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"version"""),
        ["error.invalid_request"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"op":"version"}""");
            await t.CallAsync("""{"v":1,"id":7,"op":"link.query","args":["bob"]}""");
        },
        ["error.unsupported_version"] = (h, t) => t.CallAsync("""{"v":2,"id":1,"op":"version"}"""),
        ["error.unknown_op"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"link.frobnicate"}"""),
        ["error.invalid_args"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"mode":"tun","mtu":70000}}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"interface.create","args":{"addresses":["198.19.0.1/24","198.19.0/24"]}}""");
            await t.CallAsync("""{"v":1,"id":3,"op":"link.create","args":{"peer":"bob","descriptor":{"v":1,"key":"AAAA","ufrag":"abcd","pwd":"0123456789012345678901","candidates":[]}}}""");
            await t.CallAsync("""{"v":1,"id":4,"op":"events.subscribe","args":{"kinds":["link_state","everything"]}}""");
        },
        ["error.request_too_large"] = async (h, t) =>
        {
            t.Note("a 70000-byte request line (the limit is 65536 bytes); the server answers and closes the connection");
            await t.Client.SendRawAsync("{\"v\":1,\"id\":1,\"op\":\"echo\",\"args\":{\"pad\":\"" + new string('x', 70000 - 42) + "\"}}\n");
            await t.ReceiveAsync();
        },
        ["error.not_owner"] = async (h, t) =>
        {
            TestClient first = t.Client;
            t.Note("session 1");
            await t.CallAsync("""{"v":1,"id":1,"op":"session.claim"}""");
            t.Client = await h.ConnectAsync();
            t.Note("session 2");
            await t.CallAsync($$$"""{"v":1,"id":1,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
            await t.CallAsync("""{"v":1,"id":2,"op":"link.query"}""");
            t.Client = first;
        },
        ["error.not_found"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"link.query","args":{"peer":"nobody@lab.test"}}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"interface.remove"}""");
        },
        ["error.conflict"] = async (h, t) =>
        {
            await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0"}}""");
            await t.CallAsync("""{"v":1,"id":2,"op":"interface.create","args":{"name":"ipop1"}}""");
        },
        ["error.invalid_state"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.2/32"}}""");
        },
        ["error.link_not_connected"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.send_control","args":{"peer":"{{{Bob}}}","data":"aGk="}}""");
        },
        ["error.send_failed"] = async (h, t) =>
        {
            await CreateBobAsync(t);
            ConnectBob(h);
            h.Tincan.Link(Bob).MaxControlBytes = 1;
            await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.send_control","args":{"peer":"{{{Bob}}}","data":"aGk="}}""");
        },
        ["error.unsupported"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0"}}"""),
        ["error.interface_error"] = (h, t) => t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"busy0"}}"""),
        ["error.too_many_clients"] = async (h, t) =>
        {
            t.Note("a second connection while MaxClients is 1");
            t.Client = await h.ConnectAsync();
            await t.ReceiveAsync();
        },
        ["error.shutting_down"] = (h, t) =>
        {
            h.Tincan.DescriptorFailure = new ObjectDisposedException("TincanNode");
            return t.CallAsync("""{"v":1,"id":1,"op":"descriptor.get"}""");
        },
        ["error.internal_error"] = (h, t) =>
        {
            h.Tincan.DescriptorFailure = new KeyNotFoundException("candidate table");
            return t.CallAsync("""{"v":1,"id":1,"op":"descriptor.get"}""");
        },
    };

    /// <summary>Scenarios that need a server configured differently.</summary>
    public static Action<ControllerApiOptions>? Options(string name) => name == "error.too_many_clients" ? o => o.MaxClients = 1 : null;

    public static bool WithInterfaces(string name) => name != "error.unsupported";

    private static Task CreateBobAsync(Transcript t) =>
        t.CallAsync($$$"""{"v":1,"id":1,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");

    private static async Task RouteToBobAsync(Transcript t)
    {
        await t.CallAsync("""{"v":1,"id":1,"op":"interface.create","args":{"name":"ipop0","addresses":["198.19.0.1/24"]}}""");
        await t.CallAsync($$$"""{"v":1,"id":2,"op":"link.create","args":{"peer":"{{{Bob}}}","descriptor":""" + BobDescriptor + "}}");
        await t.CallAsync($$$"""{"v":1,"id":3,"op":"route.set","args":{"peer":"{{{Bob}}}","prefix":"198.19.0.2/32"}}""");
    }

    private static void ConnectBob(ApiHarness h)
    {
        FakeLink bob = h.Tincan.Link(Bob);
        bob.Stats = new LinkStats
        {
            BytesSent = 1_048_576,
            BytesReceived = 2_097_152,
            PacketsSent = 1024,
            PacketsReceived = 2048,
            PacketsForwarded = 100,
            BytesForwarded = 102_400,
            PacketsDropped = 3,
            Handshakes = 2,
            RoundTripTime = TimeSpan.FromMicroseconds(1250),
            LocalCandidate = h.Tincan.Descriptor.Candidates[1],
            RemoteCandidate = new Candidate(CandidateType.ServerReflexive, new IPEndPoint(IPAddress.Parse("198.18.0.12"), 50002), Candidate.ComputePriority(CandidateType.ServerReflexive, 65535), "s1", "198.18.0.3:3478"),
            LastReceived = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero),
        };
        bob.SetStatus(new LinkStatus(LinkState.Connected, LinkPath.DirectServerReflexive, LinkFailureReason.None));
    }
}

internal static partial class ScenarioLog
{
    [LoggerMessage(31, LogLevel.Warning, "TURN server {Server} refused our credentials (401 after 2 attempts)")]
    public static partial void TurnRefused(ILogger logger, string server);
}
