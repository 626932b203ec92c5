using System.Diagnostics;
using System.Net;
using Ipop.Lab.Servers;

namespace Ipop.Tincan.Tests.Turn;

/// <summary>The coturn fixture's own behaviour: parallel instances, namespace mode, clean teardown.</summary>
public sealed class CoturnServerFixtureTests
{
    [Fact]
    public async Task Two_instances_run_side_by_side_and_dispose_removes_process_and_files()
    {
        using CoturnServer first = await CoturnServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        CoturnServer second = await CoturnServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        int pid = second.ProcessId;
        string directory = second.WorkingDirectory;
        Assert.NotEqual(first.EndPoint, second.EndPoint);
        Assert.True(Directory.Exists(directory));

        second.Dispose();

        Assert.False(IsRunning(pid));
        Assert.False(Directory.Exists(directory));
        Assert.True(IsRunning(first.ProcessId));
    }

    [Fact]
    public async Task Coturn_starts_inside_a_network_namespace_and_is_torn_down()
    {
        string ns = $"ipopct{Environment.ProcessId}";
        Run("ip", $"netns add {ns}");
        try
        {
            Run("ip", $"netns exec {ns} ip link set lo up");
            CoturnServer coturn = await CoturnServer.StartAsync(new CoturnOptions { NetworkNamespace = ns, ListenAddress = IPAddress.Loopback }, TestContext.Current.CancellationToken);
            int pid = coturn.ProcessId;
            Assert.Contains("UDP listener opened on: 127.0.0.1:3478", coturn.Log, StringComparison.Ordinal);
            coturn.Dispose();
            Assert.False(IsRunning(pid));
        }
        finally
        {
            Run("ip", $"netns del {ns}");
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, UseShellExecute = false })!;
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {arguments} hung");
        }

        Assert.True(process.ExitCode == 0, $"{file} {arguments}: {process.StandardError.ReadToEnd()}");
    }
}
