using System.Text.Json.Nodes;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.ControllerApi;

/// <summary>
/// A controller removes a node's TUN device through the API and creates it again, under the same name, in the same
/// <c>ipop-tincan</c> process: the link stays up and ping crosses the new device.
/// </summary>
public sealed class InterfaceRecreateTests : IAsyncDisposable
{
    private readonly NetworkLab _lab = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-api-").FullName;
    private readonly List<ApiNode> _nodes = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        foreach (ApiNode node in _nodes)
        {
            await node.DisposeAsync();
        }

        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Removing_and_recreating_the_tun_device_keeps_the_link_and_ping_crosses_the_new_device()
    {
        LabNamespace a = _lab.AddNamespace("a");
        LabNamespace b = _lab.AddNamespace("b");
        _lab.ConnectDirect(a, "eth0", "198.18.0.1/24", b, "eth0", "198.18.0.2/24");
        ApiNode nodeA = await ApiNode.StartAsync(_lab, a, _dir, [], [], Ct);
        _nodes.Add(nodeA);
        ApiNode nodeB = await ApiNode.StartAsync(_lab, b, _dir, [], [], Ct);
        _nodes.Add(nodeB);
        await nodeA.CreateInterfaceAsync("198.19.0.1/24", Ct);
        await nodeB.CreateInterfaceAsync("198.19.0.2/24", Ct);
        JsonNode descriptorA = await nodeA.DescriptorAsync(Ct);
        JsonNode descriptorB = await nodeB.DescriptorAsync(Ct);
        await nodeA.LinkAsync(nodeB, descriptorB, "198.19.0.2/32", Ct);
        await nodeB.LinkAsync(nodeA, descriptorA, "198.19.0.1/32", Ct);
        Assert.True(await PingUntilAsync(a, "198.19.0.2"), await StatusAsync(nodeA, nodeB));
        string oldIndex = LinkIndex(b);
        long handshakes = (await nodeB.LinkStatusAsync(nodeA.Id, Ct))["stats"]!["handshakes"]!.GetValue<long>();

        await nodeB.Client.RequestAsync("interface.remove", null, Ct);
        Assert.NotEqual(0, b.TryExec(TimeSpan.FromSeconds(5), "ip", "link", "show", "ipop0").ExitCode);
        Assert.False(a.Ping("198.19.0.2", count: 1, deadlineSeconds: 1), "ping crossed a removed device");

        await nodeB.CreateInterfaceAsync("198.19.0.2/24", Ct);
        await nodeB.Client.RequestAsync("route.set", new JsonObject { ["peer"] = nodeA.Id, ["prefix"] = "198.19.0.1/32" }, Ct);
        Assert.NotEqual(oldIndex, LinkIndex(b));
        Assert.True(await PingUntilAsync(a, "198.19.0.2"), await StatusAsync(nodeA, nodeB) + "\n" + nodeB.Process.Output);
        Assert.True(b.Ping("198.19.0.1", count: 3, deadlineSeconds: 5), await StatusAsync(nodeA, nodeB));

        // The same link, with the same session, carried traffic before and after: no new handshake was needed.
        JsonNode link = await nodeB.LinkStatusAsync(nodeA.Id, Ct);
        Assert.Equal("connected", link["state"]!.GetValue<string>());
        Assert.Equal(handshakes, link["stats"]!["handshakes"]!.GetValue<long>());
        Assert.DoesNotContain("Unhandled", nodeB.Process.Output, StringComparison.Ordinal);
    }

    private static async Task<bool> PingUntilAsync(LabNamespace from, string address)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (from.Ping(address, count: 1, intervalSeconds: 0.2, deadlineSeconds: 1))
            {
                return true;
            }

            await Task.Delay(100, Ct);
        }

        return false;
    }

    /// <summary>The kernel's interface index of ipop0: a new device gets a new one.</summary>
    private static string LinkIndex(LabNamespace ns) => ns.Exec("cat", "/sys/class/net/ipop0/ifindex").Trim();

    private static async Task<string> StatusAsync(ApiNode a, ApiNode b) =>
        $"{a.Id}: {(await a.LinkStatusAsync(b.Id, Ct)).ToJsonString()}\n{b.Id}: {(await b.LinkStatusAsync(a.Id, Ct)).ToJsonString()}";
}
