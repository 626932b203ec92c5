using System.Text.Json;

namespace Ipop.Tincan.Api.Tests;

/// <summary>One controlling session at a time; everyone may read and listen.</summary>
public sealed class OwnershipTests
{
    private static readonly string RemoteDescriptor = new FakeTincan(2).Descriptor.ToJson();

    public static TheoryData<string, string> MutatingOps => new()
    {
        { "session.claim", "{}" },
        { "interface.create", "{}" },
        { "interface.remove", "{}" },
        { "link.create", $$"""{"peer":"c","descriptor":{{RemoteDescriptor}}}""" },
        { "link.remove", """{"peer":"b"}""" },
        { "link.send_control", """{"peer":"b","data":"aGk="}""" },
        { "route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""" },
        { "route.remove", """{"prefix":"198.19.0.2/32"}""" },
        { "ring.set", """{"position":"1000000000000000"}""" },
    };

    [Theory]
    [MemberData(nameof(MutatingOps))]
    public async Task Mutating_op_from_a_second_client_is_refused_and_changes_nothing(string op, string args)
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient owner = await h.ConnectAsync();
        TestClient other = await h.ConnectAsync();
        await owner.OkAsync("interface.create", "{}");
        await owner.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{RemoteDescriptor}}}""");
        await owner.OkAsync("route.set", """{"peer":"b","prefix":"198.19.0.2/32"}""");
        string before = (await other.OkAsync("link.query")).GetRawText() + (await other.OkAsync("route.list")).GetRawText() + (await other.OkAsync("interface.query")).GetRawText();

        string message = await other.FailAsync(op, args, "not_owner");
        Assert.Equal("Session 1 controls this Tincan; session 2 may use read-only operations and events until that session disconnects or sends session.release.", message);
        string after = (await other.OkAsync("link.query")).GetRawText() + (await other.OkAsync("route.list")).GetRawText() + (await other.OkAsync("interface.query")).GetRawText();
        Assert.Equal(before, after);
        Assert.Single(h.Tincan.CreateLinkCalls);
        Assert.Empty(h.Tincan.Link("b").SentControl);
        Assert.True(ControllerApiServer.IsMutating(op));
    }

    [Fact]
    public async Task Read_only_ops_and_events_work_for_every_client()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient owner = await h.ConnectAsync();
        TestClient watcher = await h.ConnectAsync();
        await owner.OkAsync("session.claim");
        foreach (string op in new[] { "version", "echo", "interface.query", "descriptor.get", "link.query", "route.list", "session.release" })
        {
            await watcher.OkAsync(op);
            Assert.False(ControllerApiServer.IsMutating(op));
        }

        await watcher.OkAsync("events.subscribe", """{"kinds":["link_state"]}""");
        await watcher.OkAsync("log.set_level", """{"level":"debug"}""");
        await owner.OkAsync("link.create", $$"""{"peer":"b","descriptor":{{RemoteDescriptor}}}""");
        h.Tincan.Link("b").SetStatus(new LinkStatus(LinkState.Connected, LinkPath.Relayed, LinkFailureReason.None));
        Assert.Equal("relayed", (await watcher.NextEventAsync("link_state")).GetProperty("data").GetProperty("path").GetString());

        // session.release from a non-owner is harmless: the owner keeps control.
        await owner.OkAsync("route.list");
        await watcher.FailAsync("session.claim", "{}", "not_owner");
    }

    [Fact]
    public async Task The_first_mutating_op_claims_ownership_implicitly()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient first = await h.ConnectAsync();
        TestClient second = await h.ConnectAsync();
        await first.OkAsync("interface.create", "{}");
        await second.FailAsync("session.claim", "{}", "not_owner");
        JsonElement claim = await first.OkAsync("session.claim");
        Assert.Equal("""{"session":1,"owner":true}""", claim.GetRawText());
    }

    [Fact]
    public async Task Ownership_is_released_when_the_owner_disconnects()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient first = await h.ConnectAsync();
        TestClient second = await h.ConnectAsync();
        await first.OkAsync("session.claim");
        await second.FailAsync("interface.create", "{}", "not_owner");
        first.Dispose();

        JsonElement? claimed = null;
        for (int i = 0; i < 200 && claimed is null; i++)
        {
            JsonElement r = await second.CallAsync("session.claim");
            if (r.GetProperty("ok").GetBoolean())
            {
                claimed = r.GetProperty("result");
            }
            else
            {
                await Task.Delay(10, TestContext.Current.CancellationToken);
            }
        }

        Assert.Equal("""{"session":2,"owner":true}""", claimed?.GetRawText());
        await second.OkAsync("interface.create", "{}");
    }

    [Fact]
    public async Task Session_release_hands_control_to_the_next_claimant()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient first = await h.ConnectAsync();
        TestClient second = await h.ConnectAsync();
        await first.OkAsync("session.claim");
        Assert.Equal("""{"session":1,"owner":false}""", (await first.OkAsync("session.release")).GetRawText());
        await second.OkAsync("session.claim");
        await first.FailAsync("interface.create", "{}", "not_owner");
    }

    [Fact]
    public async Task Two_clients_racing_to_claim_get_exactly_one_owner()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        TestClient[] clients = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => h.ConnectAsync()));
        JsonElement[] results = await Task.WhenAll(clients.Select(c => c.CallAsync("session.claim")));
        Assert.Single(results, r => r.GetProperty("ok").GetBoolean());
        Assert.Equal(7, results.Count(r => r.TryGetProperty("error", out JsonElement e) && e.GetProperty("code").GetString() == "not_owner"));
    }
}
