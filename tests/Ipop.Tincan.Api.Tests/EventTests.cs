using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Api.Tests;

/// <summary>Events reach the clients that asked for them, and only those.</summary>
public sealed partial class EventTests
{
    private static readonly string RemoteDescriptor = new FakeTincan(2).Descriptor.ToJson();

    [Fact]
    public async Task Link_state_changes_reach_subscribers_with_the_previous_status()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient owner = await h.ConnectAsync();
        TestClient listener = await h.ConnectAsync();
        TestClient deaf = await h.ConnectAsync();
        await listener.OkAsync("events.subscribe", """{"kinds":["link_state"]}""");
        await owner.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{RemoteDescriptor}}}""");
        FakeLink link = h.Tincan.Link("b");
        link.SetStatus(new LinkStatus(LinkState.Connected, LinkPath.DirectServerReflexive, LinkFailureReason.None));
        link.SetStatus(new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.HandshakeTimedOut, "no answer from 198.18.0.12:50002"));

        JsonElement first = (await listener.NextEventAsync("link_state")).GetProperty("data");
        Assert.Equal("""{"peer":"b","state":"connected","path":"direct_server_reflexive","reason":"none","detail":null,"previous":{"state":"connecting","path":"none","reason":"none","detail":null}}""", first.GetRawText());
        JsonElement second = (await listener.NextEventAsync("link_state")).GetProperty("data");
        Assert.Equal(("failed", "handshake_timed_out", "no answer from 198.18.0.12:50002"), (second.GetProperty("state").GetString(), second.GetProperty("reason").GetString(), second.GetProperty("detail").GetString()));

        // The unsubscribed client gets nothing: its next line is the answer to its next request.
        await deaf.SendLineAsync("""{"v":1,"id":1,"op":"version"}""");
        Assert.StartsWith("""{"v":1,"id":1,"ok":true""", await deaf.ReadLineAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_messages_arrive_as_base64()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("events.subscribe", """{"kinds":["control_message"]}""");
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{RemoteDescriptor}}}""");
        h.Tincan.DeliverControl("b", [0, 1, 2, 250, 255]);
        JsonElement e = await c.NextEventAsync("control_message");
        Assert.Equal("""{"peer":"b","data":"AAEC+v8="}""", e.GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task Stats_events_follow_the_requested_interval()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{RemoteDescriptor}}}""");
        JsonElement sub = await c.OkAsync("events.subscribe", """{"kinds":["stats"],"stats_interval_ms":1000}""");
        Assert.Equal("""{"kinds":["stats"],"stats_interval_ms":1000}""", sub.GetRawText());
        h.Tincan.Link("b").Stats = new LinkStats { PacketsReceived = 42 };
        h.Time.Advance(TimeSpan.FromMilliseconds(999));
        await Task.Delay(100, TestContext.Current.CancellationToken);
        await c.SendLineAsync("""{"v":1,"id":3,"op":"version"}""");
        Assert.StartsWith("""{"v":1,"id":3,"ok":true""", await c.ReadLineAsync(), StringComparison.Ordinal);
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        JsonElement stats = await c.NextEventAsync("stats");
        Assert.Equal(42, stats.GetProperty("data").GetProperty("links")[0].GetProperty("stats").GetProperty("packets_received").GetInt64());
        h.Time.Advance(TimeSpan.FromSeconds(1));
        await c.NextEventAsync("stats");
    }

    [Fact]
    public async Task Unsubscribing_stops_events()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("events.subscribe", """{"kinds":["link_state","stats"],"stats_interval_ms":100}""");
        Assert.Equal("""{"kinds":[],"stats_interval_ms":null}""", (await c.OkAsync("events.subscribe", """{"kinds":[]}""")).GetRawText());
        await c.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{RemoteDescriptor}}}""");
        h.Tincan.Link("b").SetStatus(new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
        h.Time.Advance(TimeSpan.FromSeconds(5));
        await c.SendLineAsync("""{"v":1,"id":99,"op":"version"}""");
        Assert.StartsWith("""{"v":1,"id":99,"ok":true""", await c.ReadLineAsync(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<TimeoutException>(() => c.ReadLineAsync(TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public async Task Log_records_are_forwarded_at_or_above_the_clients_level()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient c = await h.ConnectAsync();
        ILogger tincanLog = h.Logs.CreateLogger("Ipop.Tincan.TincanNode");
        Assert.False(tincanLog.IsEnabled(LogLevel.Critical));
        await c.OkAsync("events.subscribe", """{"kinds":["log"]}""");
        Assert.False(tincanLog.IsEnabled(LogLevel.Debug));
        Assert.True(tincanLog.IsEnabled(LogLevel.Information));
        await c.OkAsync("log.set_level", """{"level":"warning"}""");
        LogNotForwarded(tincanLog);
        LogLinkFailed(tincanLog, "b");
        JsonElement e = await c.NextEventAsync("log");
        Assert.Equal("""{"level":"warning","category":"Ipop.Tincan.TincanNode","event_id":7,"message":"link b failed"}""", e.GetProperty("data").GetRawText());
        Assert.False(h.Logs.CreateLogger("Ipop.Tincan.Api.ControllerApiServer").IsEnabled(LogLevel.Critical));
    }

    [LoggerMessage(6, LogLevel.Information, "not forwarded")]
    private static partial void LogNotForwarded(ILogger logger);

    [LoggerMessage(7, LogLevel.Warning, "link {Peer} failed")]
    private static partial void LogLinkFailed(ILogger logger, string peer);
}
