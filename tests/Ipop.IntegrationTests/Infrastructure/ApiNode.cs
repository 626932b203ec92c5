using System.Text.Json;
using System.Text.Json.Nodes;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>An <c>ipop-tincan</c> process driven through its controller API, as an external controller would.</summary>
internal sealed class ApiNode : IAsyncDisposable
{
    private ApiNode(LabNamespace ns, LabProcess process, ControllerApiClient client, string id)
    {
        Namespace = ns;
        Process = process;
        Client = client;
        Id = id;
    }

    public LabNamespace Namespace { get; }

    public LabProcess Process { get; }

    /// <summary>The node's status socket, for the CLI commands (<c>peers</c>, <c>ping</c>, <c>why</c>).</summary>
    public string StatusSocket { get; private init; } = string.Empty;

    public ControllerApiClient Client { get; }

    public string Id { get; }

    /// <summary>Starts the node with the given STUN/TURN servers and claims its controller session.</summary>
    public static async Task<ApiNode> StartAsync(NetworkLab lab, LabNamespace ns, string directory, object[] stunServers, object[] turnServers, CancellationToken ct)
    {
        string socket = Path.Combine(directory, ns.Role + ".sock");
        string config = Path.Combine(directory, ns.Role + ".json");
        string statusSocket = Path.Combine(directory, ns.Role + ".status.sock");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            Tincan = new { ListenPort = 0, PrivateKeyPath = Path.Combine(directory, ns.Role + ".key"), StunServers = stunServers, TurnServers = turnServers },
            ControllerApi = new { SocketPath = socket },
            Status = new { SocketPath = statusSocket },
            StatusIntervalSeconds = 0,
        }), ct);
        // IPOP_LAB_LOG_LEVEL=Debug shows every handshake and path decision in a failing test's output.
        Dictionary<string, string> environment = [];
        if (Environment.GetEnvironmentVariable("IPOP_LAB_LOG_LEVEL") is { Length: > 0 } level)
        {
            environment["Logging__LogLevel__Default"] = level;
        }

        LabProcess process = lab.Start(ns, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config), environment);
        if (!await process.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"{ns.Role} did not start:\n{process.Output}");
        }

        for (int i = 0; i < 50 && !File.Exists(socket); i++)
        {
            await Task.Delay(100, ct);
        }

        ControllerApiClient client = await ControllerApiClient.ConnectAsync(socket, ct);
        await client.RequestAsync("session.claim", null, ct);
        return new ApiNode(ns, process, client, ns.Role) { StatusSocket = statusSocket };
    }

    public async Task<JsonNode> DescriptorAsync(CancellationToken ct) => (await Client.RequestAsync("descriptor.get", null, ct))["descriptor"]!;

    public Task CreateInterfaceAsync(string address, CancellationToken ct) =>
        Client.RequestAsync("interface.create", new JsonObject { ["name"] = "ipop0", ["mode"] = "tun", ["mtu"] = 1400, ["addresses"] = new JsonArray(address) }, ct);

    public async Task LinkAsync(ApiNode peer, JsonNode peerDescriptor, string peerPrefix, CancellationToken ct)
    {
        await Client.RequestAsync("link.create", new JsonObject { ["peer"] = peer.Id, ["descriptor"] = peerDescriptor.DeepClone() }, ct);
        await Client.RequestAsync("route.set", new JsonObject { ["peer"] = peer.Id, ["prefix"] = peerPrefix }, ct);
    }

    public async Task<JsonNode> LinkStatusAsync(string peer, CancellationToken ct) =>
        (await Client.RequestAsync("link.query", new JsonObject { ["peer"] = peer }, ct))["link"]!;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        Process.Dispose();
    }
}
