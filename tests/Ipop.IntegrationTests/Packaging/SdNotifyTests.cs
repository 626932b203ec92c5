using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// The units are <c>Type=notify</c>: systemd holds <c>systemctl start</c> (and every unit ordered after the node)
/// until the host says <c>READY=1</c>, and fails the start if it never does. Outside systemd nothing would show that
/// the hosts speak the protocol (Microsoft.Extensions.Hosting.Systemd stays silent unless its parent is named
/// systemd), so these tests play the service manager: they own the notify socket, start the real host with
/// <c>NOTIFY_SOCKET</c> pointing at it and listen for <c>READY=1</c>, then SIGTERM it and listen for <c>STOPPING=1</c>.
/// </summary>
public sealed class SdNotifyTests : IDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-sdnotify-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Ipop_tincan_tells_an_abstract_notify_socket_READY_1_and_on_SIGTERM_STOPPING_1()
    {
        // Abstract names belong to a network namespace: this node runs in the test's own (API only: no device, and
        // its UDP socket on 127.0.0.1).
        string key = Path.Combine(_dir, "node.key");
        Cmd.Run(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("genkey", "--key", key));
        string config = Path.Combine(_dir, "api.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            Tincan = new { ListenAddress = "127.0.0.1", ListenPort = 0, PrivateKeyPath = key },
            ControllerApi = new { SocketPath = Path.Combine(_dir, "api.sock") },
            StatusIntervalSeconds = 0,
        }), TestContext.Current.CancellationToken);

        using var notify = NotifySocket.Abstract(string.Create(CultureInfo.InvariantCulture, $"ipop-sdnotify-{Environment.ProcessId}-{Guid.NewGuid():N}"));
        using var host = new HostProcess(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config), notify.Address);
        await RequireReadyThenStoppingAsync(notify, host);
    }

    [Fact]
    public async Task Ipop_tincan_with_a_tun_device_tells_a_path_notify_socket_READY_1_once_the_device_exists()
    {
        using var lab = new NetworkLab();
        LabNamespace ns = lab.AddNamespace("n");
        string key = Path.Combine(_dir, "node.key");
        Cmd.Run(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("genkey", "--key", key));
        string peerKey = Cmd.Run(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("genkey", "--key", Path.Combine(_dir, "peer.key"))).Trim();
        string config = Path.Combine(_dir, "tun.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            Tincan = new { ListenAddress = "127.0.0.1", ListenPort = 0, PrivateKeyPath = key },
            Interface = new { Name = "ipop0", Mode = "tun", Mtu = 1420, Addresses = new[] { "198.19.0.1/24" } },
            Peers = new[] { TincanNodeProcess.Peer("peer", peerKey, "127.0.0.2:51820", "198.19.0.2/32") },
            StatusIntervalSeconds = 0,
        }), TestContext.Current.CancellationToken);

        // A path, as systemd uses (/run/systemd/notify): it reaches into the lab namespace, an abstract name would not.
        using var notify = NotifySocket.AtPath(Path.Combine(_dir, "notify"));
        var sw = Stopwatch.StartNew();
        using LabProcess p = lab.Start(ns, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", config), new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Address });
        (bool ready, List<string> messages) = await notify.WaitForAsync("READY=1", StartDeadline);
        double readyMs = sw.Elapsed.TotalMilliseconds;
        Assert.True(ready, $"no READY=1 within {StartDeadline.TotalSeconds} s (got: {string.Join(" | ", messages)})\n{p}");

        // Ready must mean usable: a unit ordered After= this node may configure the device at once.
        bool device = ns.TryExec(TimeSpan.FromSeconds(5), "ip", "link", "show", "ipop0").ExitCode == 0;
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"READY=1 after {readyMs:F0} ms; device present then: {device}"));
        Assert.True(device, $"READY=1 arrived before the device ipop0 existed\n{p}");

        var sinceSignal = Stopwatch.StartNew();
        SigtermExit.Send(p);
        (bool stopping, messages) = await notify.WaitForAsync("STOPPING=1", TimeSpan.FromSeconds(5), messages);
        Assert.True(stopping, $"no STOPPING=1 after SIGTERM (got: {string.Join(" | ", messages)})\n{p}");
        List<string> problems = SigtermExit.Check(p, ns, "ipop0", sinceSignal, []);
        Assert.True(problems.Count == 0, string.Join("; ", problems) + "\n" + p);
    }

    private static async Task RequireReadyThenStoppingAsync(NotifySocket notify, HostProcess host)
    {
        var sw = Stopwatch.StartNew();
        (bool ready, List<string> messages) = await notify.WaitForAsync("READY=1", StartDeadline);
        Assert.True(ready, $"no READY=1 within {StartDeadline.TotalSeconds} s (got: {string.Join(" | ", messages)})\n{host.Output}");
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"READY=1 after {sw.Elapsed.TotalMilliseconds:F0} ms"));
        Assert.False(host.HasExited, "the host exited after READY=1\n" + host.Output);

        host.Terminate();
        (bool stopping, messages) = await notify.WaitForAsync("STOPPING=1", TimeSpan.FromSeconds(5), messages);
        Assert.True(stopping, $"no STOPPING=1 after SIGTERM (got: {string.Join(" | ", messages)})\n{host.Output}");
        Assert.True(host.WaitForExit(TimeSpan.FromSeconds(5)), "still running 5 s after SIGTERM\n" + host.Output);
        Assert.True(host.ExitCode == 0, $"exit code {host.ExitCode}\n{host.Output}");
        Assert.Equal(1, messages.Count(m => m.Split('\n').Contains("READY=1")));
    }
}
