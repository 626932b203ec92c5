using System.Globalization;
using System.Text.Json;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// Runs the real ipop-tincan unit under the machine's systemd (only when PID 1 is systemd): a copy of the template
/// under a name unique to this test run in /run/systemd/system (gone at reboot), pointed at the AOT binary and an
/// API-only config (no device, UDP on 127.0.0.1), with every hardening line as shipped. <c>systemctl start</c>
/// returns only after READY=1; the node must then be active with its socket in /run/ipop, and stop with result
/// "success". Everything it created is removed, also on failure.
/// </summary>
internal static class SystemdBoot
{
    public static void RunTincanApiNode(string unitDirectory, string repositoryRoot)
    {
        string binary = Path.Combine(repositoryRoot, "artifacts/publish/ipop-tincan/ipop-tincan");
        Assert.SkipUnless(File.Exists(binary), $"{binary} is not published (bash scripts/publish.sh): a DynamicUser unit cannot run the JIT build from the repository");
        string tag = string.Create(CultureInfo.InvariantCulture, $"lab{Environment.ProcessId}");
        string template = $"ipop-tincan-{tag}@.service";
        string instance = $"ipop-tincan-{tag}@node.service";
        string unitPath = Path.Combine("/run/systemd/system", template);
        string configDir = $"/run/ipop-{tag}";
        string socket = $"/run/ipop/{tag}.sock";
        try
        {
            Directory.CreateDirectory(configDir);
            File.SetUnixFileMode(configDir, (UnixFileMode)0b111_101_101);
            string config = Path.Combine(configDir, "node.json");
            File.WriteAllText(config, JsonSerializer.Serialize(new
            {
                Tincan = new { ListenAddress = "127.0.0.1", ListenPort = 0, PrivateKeyPath = $"/var/lib/ipop/{tag}.key" },
                ControllerApi = new { SocketPath = socket },
                StatusIntervalSeconds = 0,
            }));
            File.SetUnixFileMode(config, (UnixFileMode)0b110_100_100);
            string text = File.ReadAllText(Path.Combine(unitDirectory, "ipop-tincan@.service"))
                .Replace("/usr/bin/ipop-tincan", binary, StringComparison.Ordinal)
                .Replace("/etc/ipop/tincan/%i.json", config.Replace("node.json", "%i.json", StringComparison.Ordinal), StringComparison.Ordinal);
            File.WriteAllText(unitPath, text);
            Cmd.Run("systemctl", "daemon-reload");

            CommandResult start = Cmd.TryRun(TimeSpan.FromSeconds(60), "systemctl", "start", instance);
            string journal = Cmd.TryRun(TimeSpan.FromSeconds(10), "journalctl", "-u", instance, "--no-pager", "-n", "30").StandardOutput;
            Assert.True(start.ExitCode == 0, $"systemctl start {instance}: {start.StandardError}\n{journal}");
            Assert.Equal("active", Cmd.TryRun(TimeSpan.FromSeconds(10), "systemctl", "is-active", instance).StandardOutput.Trim());
            Assert.True(File.Exists(socket), $"{socket} missing while the unit is active\n{journal}");

            CommandResult stop = Cmd.TryRun(TimeSpan.FromSeconds(30), "systemctl", "stop", instance);
            Assert.True(stop.ExitCode == 0, $"systemctl stop {instance}: {stop.StandardError}");
            Assert.Equal("success", Cmd.TryRun(TimeSpan.FromSeconds(10), "systemctl", "show", "-p", "Result", "--value", instance).StandardOutput.Trim());
        }
        finally
        {
            Cmd.TryRun(TimeSpan.FromSeconds(30), "systemctl", "stop", instance);
            File.Delete(unitPath);
            Cmd.TryRun(TimeSpan.FromSeconds(30), "systemctl", "daemon-reload");
            Cmd.TryRun(TimeSpan.FromSeconds(10), "systemctl", "reset-failed", instance);
            foreach (string leftover in (string[])[$"/var/lib/private/ipop/{tag}.key", $"/var/lib/private/ipop/{tag}.key.state", socket])
            {
                File.Delete(leftover);
            }

            if (Directory.Exists(configDir))
            {
                Directory.Delete(configDir, recursive: true);
            }
        }
    }
}
