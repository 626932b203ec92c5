using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Ipop.SystemGuard;

/// <summary>
/// Issue 14 part 6: a user's system-wide prosody is left alone by everything the test run does (setup, the lab's
/// private prosody/coturn/ejabberd instances, cleanup). scripts/test.sh starts or finds one with
/// <c>scripts/system-services-guard.sh start</c> before the first test and runs this project after the last: the
/// process recorded then must still be the same process (PID and start time), still prosody, and still serving XMPP
/// on 127.0.0.1:5222.
/// </summary>
public sealed class SystemProsodyGuardTests
{
    private const int Port = 5222;

    [Fact]
    public void The_system_wide_prosody_recorded_before_the_run_is_the_same_process_after_it()
    {
        string? pidText = Environment.GetEnvironmentVariable("IPOP_SYSTEM_PROSODY_PID");
        string? startText = Environment.GetEnvironmentVariable("IPOP_SYSTEM_PROSODY_START");
        Assert.SkipWhen(string.IsNullOrEmpty(pidText), "IPOP_SYSTEM_PROSODY_PID is not set: this test checks a whole run and only means something under scripts/test.sh, which exports it from 'scripts/system-services-guard.sh start'.");
        int pid = int.Parse(pidText!, CultureInfo.InvariantCulture);

        Assert.True(Directory.Exists($"/proc/{pid}"), $"the system-wide prosody (PID {pid}) is gone: something in the run stopped or killed it");
        string[] stat = StatFields(pid);
        Assert.True(stat[0] != "Z", $"the system-wide prosody (PID {pid}) has exited and awaits reaping (state Z)");
        Assert.Equal(startText, stat[19]);
        string commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        Assert.Contains("prosody", commandLine, StringComparison.Ordinal);
        (int exit, string output) = RunGuardCheck();
        Assert.True(exit == 0, $"scripts/system-services-guard.sh check failed ({exit}): {output}");
    }

    [Fact]
    public async Task The_system_wide_prosody_still_answers_an_xmpp_stream_on_port_5222()
    {
        Assert.SkipWhen(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("IPOP_SYSTEM_PROSODY_PID")), "IPOP_SYSTEM_PROSODY_PID is not set: run under scripts/test.sh.");
        CancellationToken ct = TestContext.Current.CancellationToken;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port, cts.Token);
        NetworkStream stream = client.GetStream();

        // Debian's default config serves VirtualHost "localhost"; any XMPP server answers a stream header with its own.
        byte[] open = Encoding.UTF8.GetBytes("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
        await stream.WriteAsync(open, cts.Token);
        var reply = new StringBuilder();
        byte[] buffer = new byte[4096];
        while (!reply.ToString().Contains("stream:features", StringComparison.Ordinal))
        {
            int n = await stream.ReadAsync(buffer, cts.Token);
            if (n == 0)
            {
                break;
            }

            reply.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        Assert.Contains("stream:features", reply.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// /proc/PID/stat from field 3 on (after the command name, which may hold spaces): [0] is the state, [19] the start
    /// time in clock ticks after boot (a recycled PID has another).
    /// </summary>
    private static string[] StatFields(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    private static (int Exit, string Output) RunGuardCheck()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Ipop.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("Ipop.sln not found above " + AppContext.BaseDirectory);
        }

        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(root, "scripts", "system-services-guard.sh"));
        psi.ArgumentList.Add("check");
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill();
            return (-1, "timed out: " + output);
        }

        return (p.ExitCode, output.Trim());
    }
}
