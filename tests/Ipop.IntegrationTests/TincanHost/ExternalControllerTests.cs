using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.IntegrationTests.Packaging;
using Ipop.Lab;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.TincanHost;

/// <summary>
/// Issue 15: <c>ipop-tincan</c> driven by an external controller, configured as docs/controller-api.md and
/// docs/tincan-host.md say: the section is <c>ControllerApi</c>, every <c>ControllerApiOptions</c> setting is accepted
/// and takes effect, and each way the API cannot start is one line with exit 2 (the file) or 3 (the machine), printed
/// before anything claims the node is ready. The real program runs; nothing here creates a device.
/// </summary>
public sealed partial class ExternalControllerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-extctl-").FullName;
    private int _case;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Controller_api_start_errors_are_one_line_each_name_the_key_and_come_before_ready()
    {
        string worldWritable = Directory.CreateDirectory(Path.Combine(_dir, "open")).FullName;
        File.SetUnixFileMode(worldWritable, (UnixFileMode)0x1FF); // 0777, no sticky bit
        string notASocket = Path.Combine(_dir, "file.sock");
        File.WriteAllText(notASocket, "a user's file\n");
        var cases = new (string Name, string Api)[]
        {
            ("the section under its old name Api", $$"""{ "Api": { "SocketPath": "{{_dir}}/a.sock" } }"""),
            ("unknown ControllerApi key", $$"""{ "ControllerApi": { "SocketPath": "{{_dir}}/a.sock", "MaxClient": 4 } }"""),
            ("ControllerApi without SocketPath", """{ "ControllerApi": { "MaxClients": 4 } }"""),
            ("relative SocketPath", """{ "ControllerApi": { "SocketPath": "tincan.sock" } }"""),
            ("MaxClients out of range", $$"""{ "ControllerApi": { "SocketPath": "{{_dir}}/a.sock", "MaxClients": 0 } }"""),
            ("MaxRequestBytes not a number", $$"""{ "ControllerApi": { "SocketPath": "{{_dir}}/a.sock", "MaxRequestBytes": "64k" } }"""),
            ("MinStatsInterval in words", $$"""{ "ControllerApi": { "SocketPath": "{{_dir}}/a.sock", "MinStatsInterval": "1 second" } }"""),
            ("socket directory missing", $$"""{ "ControllerApi": { "SocketPath": "{{_dir}}/missing/tincan.sock" } }"""),
            ("socket directory world-writable", $$"""{ "ControllerApi": { "SocketPath": "{{worldWritable}}/tincan.sock" } }"""),
            ("a regular file at the socket path", $$"""{ "ControllerApi": { "SocketPath": "{{notASocket}}" } }"""),
        };

        var text = new StringBuilder();
        foreach ((string name, string api) in cases)
        {
            CommandResult r = RunUntilExit(api);
            string all = r.StandardOutput + r.StandardError;
            Assert.False(r.TimedOut, $"{name}: the program did not exit\n{all}");
            Assert.DoesNotContain("   at ", all, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", all, StringComparison.Ordinal);

            // The tool's own types are no business of the user's (issue 15: "names the internal type Ipop.TincanHost.HostConfig").
            Assert.DoesNotContain("Ipop.TincanHost.", all, StringComparison.Ordinal);
            Assert.DoesNotContain("ipop-tincan ready", all, StringComparison.Ordinal);
            StartErrorTranscript.Append(text, name, r, _dir);
        }

        Snapshot.Verify(text.ToString());
        Assert.Equal(notASocket, Directory.GetFiles(_dir, "file.sock").Single()); // never removed because a config named it
    }

    [Fact]
    public async Task A_socket_directory_that_is_missing_exits_3_and_never_tells_the_service_manager_ready()
    {
        string config = WriteConfig($$"""{ "ControllerApi": { "SocketPath": "{{_dir}}/missing/tincan.sock" } }""");
        using var notify = NotifySocket.AtPath(Path.Combine(_dir, "notify"));
        using var host = new HostProcess(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config), notify.Address);
        Assert.True(host.WaitForExit(TimeSpan.FromSeconds(30)), host.Output);
        Assert.Equal(3, host.ExitCode);

        // Whatever the node sent before it exited is queued on the socket by now.
        var messages = new List<string>();
        while (await notify.ReceiveAsync(TimeSpan.FromMilliseconds(300)) is { } message)
        {
            messages.Add(message);
        }

        Assert.DoesNotContain(messages, m => m.Contains("READY=1", StringComparison.Ordinal));
        Assert.DoesNotContain("ipop-tincan ready", host.Output, StringComparison.Ordinal);
        string line = Assert.Single(host.Output.Split('\n'), l => l.Contains("cannot start", StringComparison.Ordinal));
        Assert.Contains("ControllerApi:SocketPath", line, StringComparison.Ordinal);
        Assert.Contains($"{_dir}/missing", line, StringComparison.Ordinal);
    }

    [Fact]
    public void With_its_own_interface_too_a_controller_api_that_cannot_start_stops_the_node_cleanly_and_removes_the_device()
    {
        // The device is up and attached when the API server (started after it) fails: the node must detach and remove
        // it before Tincan is disposed. Disposing first raced the attach ("Cannot access a disposed object ... LinkManager").
        using var lab = new NetworkLab();
        LabNamespace ns = lab.AddNamespace("extnic");
        string config = WriteConfig($$"""
            { "Interface": { "Name": "ipx0", "Addresses": [ "198.19.0.1/24" ] },
              "ControllerApi": { "SocketPath": "{{_dir}}/missing/tincan.sock" } }
            """);
        using LabProcess node = lab.Start(ns, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config));
        Assert.True(node.WaitForExit(TimeSpan.FromSeconds(30)), node.Output);
        Assert.Equal(3, node.ExitCode);
        Assert.DoesNotContain("ipop-tincan ready", node.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("disposed", node.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", node.Output, StringComparison.Ordinal);
        Assert.Single(node.Output.Split('\n'), l => l.Contains("cannot start: Controller API socket directory", StringComparison.Ordinal));
        Assert.DoesNotContain("ipx0", ns.Exec("ip", "-o", "link", "show"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_documented_controller_api_option_is_accepted_and_takes_effect()
    {
        using var lab = new NetworkLab();
        LabNamespace ns = lab.AddNamespace("extctl");
        string socket = Path.Combine(_dir, "api.sock");
        string config = WriteConfig($$"""
            { "ControllerApi": { "SocketPath": "{{socket}}", "MaxClients": 1, "MaxRequestBytes": 2048,
                                 "ClientQueueCapacity": 64, "MinStatsInterval": "00:00:00.500" } }
            """);
        using LabProcess node = lab.Start(ns, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config));
        Assert.True(await node.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(30)), node.Output);
        CancellationToken ct = TestContext.Current.CancellationToken;

        // Ready means the socket answers: no polling for the file.
        await using ControllerApiClient first = await ControllerApiClient.ConnectAsync(socket, ct);
        JsonNode version = await first.RequestAsync("version", null, ct);
        Assert.Equal(1, version["protocol"]!.GetValue<int>());

        // MaxClients 1: a second connection is told why and closed.
        string second = await FirstLineAsync(socket, request: null, ct);
        Assert.Contains("\"too_many_clients\"", second, StringComparison.Ordinal);

        // MinStatsInterval 00:00:00.500: a faster stats subscription is refused, naming the bound.
        var tooFast = await Assert.ThrowsAsync<InvalidOperationException>(() => first.RequestAsync("events.subscribe", new() { ["kinds"] = new JsonArray("stats"), ["stats_interval_ms"] = 200 }, ct));
        Assert.Contains("invalid_args", tooFast.Message, StringComparison.Ordinal);
        Assert.Contains("500", tooFast.Message, StringComparison.Ordinal);

        // MaxRequestBytes 2048: a longer line is refused (and that connection closed).
        await first.DisposeAsync();
        string large = $$$"""{"v":1,"id":1,"op":"echo","args":{"pad":"{{{new string('x', 3000)}}}"}}""";
        string answer = await FirstLineAsync(socket, large, ct);
        Assert.Contains("\"request_too_large\"", answer, StringComparison.Ordinal);
        Assert.False(node.HasExited, node.Output);
    }

    /// <summary>Connects, optionally sends one line, and returns the first line the server sends.</summary>
    private static async Task<string> FirstLineAsync(string socketPath, string? request, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        if (request is not null)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(request + "\n"), ct);
        }

        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        return await reader.ReadLineAsync(timeout.Token) ?? "(closed without a line)";
    }

    /// <summary>A node file around <paramref name="api"/> (an object with the API section): its key in the test's directory, UDP on loopback.</summary>
    private string WriteConfig(string api)
    {
        string path = Path.Combine(_dir, string.Create(CultureInfo.InvariantCulture, $"case{_case++}.json"));
        using JsonDocument sections = JsonDocument.Parse(api);
        var file = new StringBuilder();
        file.Append($$"""{ "Tincan": { "PrivateKeyPath": "{{_dir}}/node.key", "ListenAddress": "127.0.0.1", "ListenPort": 0 }, "Status": { "SocketPath": "{{_dir}}/status.sock" }""");
        foreach (JsonProperty p in sections.RootElement.EnumerateObject())
        {
            file.Append(", ").Append(JsonSerializer.Serialize(p.Name)).Append(": ").Append(p.Value.GetRawText());
        }

        File.WriteAllText(path, file.Append(" }").ToString());
        return path;
    }

    private CommandResult RunUntilExit(string api) =>
        Cmd.TryRun(TimeSpan.FromSeconds(30), Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", WriteConfig(api)));

}
