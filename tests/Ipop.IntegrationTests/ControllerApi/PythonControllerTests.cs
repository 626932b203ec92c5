using System.Globalization;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.ControllerApi;

/// <summary>
/// Issue 8's proof, on issue 15's documented setup: two Tincan processes, each started with exactly the checked-in
/// tools/Ipop.TincanHost/examples/external-controller.json that docs/tincan-host.md ("Running with an external
/// controller") shows, with no links or interfaces of their own, driven only through their controller API sockets by
/// the Python sample controller (standard library only), end up with a working encrypted link that ping crosses.
/// </summary>
/// <remarks>
/// The file names systemd's paths (/run/ipop, /var/lib/ipop). Each node gets them to itself: it runs in a private
/// mount namespace with a fresh tmpfs on /run and /var/lib, where the script makes the two directories the way the
/// unit's RuntimeDirectory= and StateDirectory= do. Nothing is written to the machine's own /run or /var/lib; the
/// controller reaches each socket through /proc/PID/root.
/// </remarks>
public sealed class PythonControllerTests : IDisposable
{
    private readonly NetworkLab _lab = new();

    public void Dispose() => _lab.Dispose();

    /// <summary>The checked-in example, unchanged.</summary>
    public static string ExampleConfig => Path.Combine(Artifacts.RepositoryRoot, "tools", "Ipop.TincanHost", "examples", "external-controller.json");

    /// <summary>Starts ipop-tincan with the example file in <paramref name="ns"/>; returns the process and its API socket as seen from outside.</summary>
    public static async Task<(LabProcess Node, string Socket)> StartExampleNodeAsync(NetworkLab lab, LabNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(lab);
        string program = string.Join(' ', new[] { Artifacts.TincanHost.FileName }.Concat(Artifacts.TincanHost.Args("run", "--config", ExampleConfig)).Select(Quote));
        string script = "set -e; mount -t tmpfs -o mode=0755 tmpfs /run; mount -t tmpfs -o mode=0755 tmpfs /var/lib; "
            + "mkdir -m 0755 /run/ipop; mkdir -m 0700 /var/lib/ipop; exec " + program;

        // unshare and sh exec what follows, so the lab's PID is the node's: SIGTERM reaches it, and /proc/PID/root is its view.
        LabProcess node = lab.Start(ns, "unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", script]);
        Assert.True(await node.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(30)), node.Output);
        string socket = string.Create(CultureInfo.InvariantCulture, $"/proc/{node.Id}/root/run/ipop/tincan.sock");

        // Ready means the socket accepts already: no waiting for the file.
        Assert.True(File.Exists(socket), $"no API socket at {socket} when the node said ready\n{node.Output}");
        return (node, socket);
    }

    [Fact]
    public async Task A_python_controller_links_two_tincan_processes_started_with_the_documented_example_and_ping_crosses_the_link()
    {
        LabNamespace a = _lab.AddNamespace("a");
        LabNamespace b = _lab.AddNamespace("b");
        _lab.ConnectDirect(a, "eth0", "198.18.0.1/24", b, "eth0", "198.18.0.2/24");
        (LabProcess nodeA, string socketA) = await StartExampleNodeAsync(_lab, a);
        (LabProcess nodeB, string socketB) = await StartExampleNodeAsync(_lab, b);

        string script = Path.Combine(Artifacts.RepositoryRoot, "samples", "python-controller", "ipop_controller.py");
        LabNamespace controllerNs = _lab.AddNamespace("ctl"); // the controller talks to both sockets by path, from anywhere
        using LabProcess controller = _lab.Start(controllerNs, "python3",
            [script, "pair", "--a", socketA, "--b", socketB, "--a-id", "node-a", "--b-id", "node-b",
             "--a-address", "198.19.0.1/24", "--b-address", "198.19.0.2/24", "--timeout", "20", "--hold", "15"]);
        Assert.True(await controller.WaitForOutputAsync("connected", TimeSpan.FromSeconds(25)), $"{controller.Output}\n{nodeA}\n{nodeB}");

        Assert.True(a.Ping("198.19.0.2", count: 3, deadlineSeconds: 8), $"ping a->b failed\n{controller.Output}");
        Assert.True(b.Ping("198.19.0.1", count: 3, deadlineSeconds: 8), $"ping b->a failed\n{controller.Output}");
        Assert.True(controller.WaitForExit(TimeSpan.FromSeconds(30)), controller.Output);
        Assert.Equal(0, controller.ExitCode);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
