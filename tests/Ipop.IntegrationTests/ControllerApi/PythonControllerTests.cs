using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.ControllerApi;

/// <summary>
/// Issue 8's proof: two Tincan processes with no links or interfaces of their own, driven only through
/// their controller API sockets by a Python controller (standard library only), end up with a working
/// encrypted link that ping crosses.
/// </summary>
public sealed class PythonControllerTests : IDisposable
{
    private readonly NetworkLab _lab = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-api-").FullName;

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<string> StartApiNodeAsync(LabNamespace ns)
    {
        string socket = Path.Combine(_dir, ns.Role + ".sock");
        string config = Path.Combine(_dir, ns.Role + ".json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            Tincan = new { ListenPort = 51820, PrivateKeyPath = Path.Combine(_dir, ns.Role + ".key") },
            Api = new { SocketPath = socket },
            StatusIntervalSeconds = 0,
        }));
        LabProcess node = _lab.Start(ns, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config));
        Assert.True(await node.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(30)), node.Output);
        for (int i = 0; i < 50 && !File.Exists(socket); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.True(File.Exists(socket), $"no API socket at {socket}\n{node.Output}");
        return socket;
    }

    [Fact]
    public async Task A_python_controller_links_two_tincan_processes_and_ping_crosses_the_link()
    {
        LabNamespace a = _lab.AddNamespace("a");
        LabNamespace b = _lab.AddNamespace("b");
        _lab.ConnectDirect(a, "eth0", "198.18.0.1/24", b, "eth0", "198.18.0.2/24");
        string socketA = await StartApiNodeAsync(a);
        string socketB = await StartApiNodeAsync(b);

        string script = Path.Combine(Artifacts.RepositoryRoot, "samples", "python-controller", "ipop_controller.py");
        LabNamespace controllerNs = _lab.AddNamespace("ctl"); // the controller talks to both sockets by path, from anywhere
        using LabProcess controller = _lab.Start(controllerNs, "python3",
            [script, "pair", "--a", socketA, "--b", socketB, "--a-id", "node-a", "--b-id", "node-b",
             "--a-address", "198.19.0.1/24", "--b-address", "198.19.0.2/24", "--timeout", "20", "--hold", "15"]);
        Assert.True(await controller.WaitForOutputAsync("connected", TimeSpan.FromSeconds(25)), controller.Output);

        Assert.True(a.Ping("198.19.0.2", count: 3, deadlineSeconds: 8), $"ping a->b failed\n{controller.Output}");
        Assert.True(b.Ping("198.19.0.1", count: 3, deadlineSeconds: 8), $"ping b->a failed\n{controller.Output}");
        Assert.True(controller.WaitForExit(TimeSpan.FromSeconds(30)), controller.Output);
        Assert.Equal(0, controller.ExitCode);
    }
}
