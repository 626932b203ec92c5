using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Samples.Hosting;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// The unit files in packaging/systemd, checked by systemd itself: <c>systemd-analyze verify</c> in a scratch root
/// that holds the units, the system's own units (for the targets they name) and a stub of each executable. verify
/// reports an unknown directive as a warning and still exits 0, so any output at all fails the check; the checker's
/// own tests break a copy of a unit and require it to fail.
/// </summary>
public sealed class SystemdUnitTests : IDisposable
{
    private static readonly string UnitDirectory = Path.Combine(Artifacts.RepositoryRoot, "packaging", "systemd");
    private readonly string _root = Directory.CreateTempSubdirectory("ipop-unitroot-").FullName;

    public static TheoryData<string> Units => new(Directory.GetFiles(UnitDirectory, "*.service").Select(Path.GetFileName).OfType<string>().Order());

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [MemberData(nameof(Units))]
    public void Unit_passes_systemd_analyze_verify_without_a_single_warning(string unit)
    {
        PrepareRoot();
        (bool ok, string report) = Verify(unit);
        Assert.True(ok, report);
    }

    [Fact]
    public void The_check_fails_on_an_unknown_directive()
    {
        PrepareRoot();
        string path = Path.Combine(_root, "etc/systemd/system/ipop-tincan@.service");
        File.WriteAllText(path, File.ReadAllText(path).Replace("NoNewPrivileges=yes", "NoNewPrivileges=yes\nProtectEverything=yes", StringComparison.Ordinal));
        (bool ok, string report) = Verify("ipop-tincan@.service");
        Assert.False(ok, "a unit with ProtectEverything=yes passed:\n" + report);
        Assert.Contains("ProtectEverything", report, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_fails_when_the_executable_is_missing()
    {
        PrepareRoot();
        File.Delete(Path.Combine(_root, "usr/bin/groupvpn"));
        (bool ok, string report) = Verify("groupvpn@.service");
        Assert.False(ok, "a unit whose ExecStart binary is missing passed:\n" + report);
    }

    [Fact]
    public void The_units_use_the_directories_the_hosts_and_example_configs_default_to()
    {
        // The status socket's default is /run/ipop/<product>.sock: RuntimeDirectory=ipop must create /run/ipop.
        Assert.Equal("/run/ipop", Path.GetDirectoryName(SampleHost.DefaultStatusSocket("groupvpn")));
        foreach (string unit in Directory.GetFiles(UnitDirectory, "*.service"))
        {
            string text = File.ReadAllText(unit);
            Assert.Contains("\nRuntimeDirectory=ipop\n", text, StringComparison.Ordinal);
            Assert.Contains("\nStateDirectory=ipop\n", text, StringComparison.Ordinal);
            Assert.Contains("\nType=notify\n", text, StringComparison.Ordinal);
        }

        // The example configs keep keys and state in /var/lib/ipop (StateDirectory=, the only writable place under
        // ProtectSystem=strict) and sockets in /run/ipop.
        string[] examples = [
            .. Directory.GetDirectories(Path.Combine(Artifacts.RepositoryRoot, "samples")).SelectMany(d => Directory.GetFiles(d, "*.example.json")),
            .. Directory.GetFiles(Path.Combine(Artifacts.RepositoryRoot, "packaging", "examples"), "*.example.json")];
        Assert.Equal(3, examples.Length);
        foreach (string example in examples)
        {
            using JsonDocument json = JsonDocument.Parse(File.ReadAllText(example));
            string key = json.RootElement.GetProperty("Tincan").GetProperty("PrivateKeyPath").GetString()!;
            Assert.StartsWith("/var/lib/ipop/", key, StringComparison.Ordinal);
            if (json.RootElement.TryGetProperty("Status", out JsonElement status))
            {
                Assert.StartsWith("/run/ipop/", status.GetProperty("SocketPath").GetString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void A_host_starts_under_systemd_and_stops_cleanly()
    {
        // Booting a unit needs systemd as the service manager (PID 1); containers and CI runners often have none.
        string pid1 = File.ReadAllText("/proc/1/comm").Trim();
        Assert.SkipUnless(pid1 == "systemd", $"PID 1 is '{pid1}', not systemd: no service manager to start the units under (systemd-analyze verify and the NOTIFY_SOCKET tests still ran)");
        SystemdBoot.RunTincanApiNode(UnitDirectory, Artifacts.RepositoryRoot);
    }

    /// <summary>The scratch root: the units, the machine's own units (targets), stub executables.</summary>
    private void PrepareRoot()
    {
        string units = Path.Combine(_root, "etc/systemd/system");
        string bin = Path.Combine(_root, "usr/bin");
        Directory.CreateDirectory(units);
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(Path.Combine(_root, "usr/lib/systemd"));
        Cmd.Run("cp", "-a", "/usr/lib/systemd/system", Path.Combine(_root, "usr/lib/systemd/"));
        foreach (string unit in Directory.GetFiles(UnitDirectory, "*.service"))
        {
            File.Copy(unit, Path.Combine(units, Path.GetFileName(unit)));
        }

        foreach (string name in (string[])["ipop-tincan", "groupvpn", "socialvpn"])
        {
            string stub = Path.Combine(bin, name);
            File.WriteAllText(stub, "#!/bin/sh\nexit 0\n");
            File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    /// <summary>Verifies an instance of the template; ok only with exit code 0 and no output at all.</summary>
    private (bool Ok, string Report) Verify(string template)
    {
        string instance = template.Replace("@.service", "@lab.service", StringComparison.Ordinal);
        CommandResult r = Cmd.TryRun(TimeSpan.FromSeconds(60), "systemd-analyze", "verify", "--man=no", "--root=" + _root, Path.Combine(_root, "etc/systemd/system", template), instance);
        string output = (r.StandardOutput + r.StandardError).Trim();
        return (r.ExitCode == 0 && !r.TimedOut && output.Length == 0, $"systemd-analyze verify {instance}: exit {r.ExitCode}{(r.TimedOut ? " (timed out)" : "")}\n{output}");
    }
}
