using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// scripts/package-deb.sh, run on the Native AOT binaries that exist (it needs at least ipop-tincan's): the package's
/// control data (<c>dpkg-deb -I</c>), its file list with modes and owners (<c>dpkg-deb -c</c>), maintainer scripts
/// that enable and start nothing, and the packaged binary run from the unpacked tree through its /usr/bin link (so
/// the native libraries beside it are found as they would be once installed). lintian runs too when installed.
/// </summary>
public sealed class DebPackageTests : IDisposable
{
    private static readonly string[] Hosts = ["ipop-tincan", "groupvpn", "socialvpn"];
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-deb-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_package_holds_the_binaries_units_and_example_configs_and_starts_nothing()
    {
        string root = Artifacts.RepositoryRoot;
        string[] published = [.. Hosts.Where(h => File.Exists(Path.Combine(root, "artifacts/publish", h, h)))];
        Assert.SkipUnless(published.Contains("ipop-tincan"), "artifacts/publish/ipop-tincan/ipop-tincan is not published (bash scripts/publish.sh)");

        string outDir = Path.Combine(_dir, "out");
        CommandResult build = Cmd.TryRun(TimeSpan.FromMinutes(3), "env", $"IPOP_DEB_PROGRAMS={string.Join(' ', published)}", $"IPOP_DEB_OUTDIR={outDir}", "bash", Path.Combine(root, "scripts/package-deb.sh"));
        Assert.True(build.ExitCode == 0, $"package-deb.sh failed ({build.ExitCode}):\n{build.StandardOutput}\n{build.StandardError}");
        string deb = Assert.Single(Directory.GetFiles(outDir, "ipop_*_amd64.deb"));
        TestContext.Current.TestOutputHelper?.WriteLine(build.StandardOutput.Trim());

        string info = Cmd.Run("dpkg-deb", "-I", deb);
        Assert.Contains(" Package: ipop\n", info, StringComparison.Ordinal);
        Assert.Contains(" Architecture: amd64\n", info, StringComparison.Ordinal);
        Assert.Matches(@" Depends: libc6 \(>= 2\.\d+\)[^\n]*libssl3", info);
        Assert.Contains("conffiles", info, StringComparison.Ordinal);

        string contents = Cmd.Run("dpkg-deb", "-c", deb);
        string[] lines = contents.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (string host in published)
        {
            string conf = host.Replace("ipop-", "", StringComparison.Ordinal);
            Assert.Contains(lines, l => l.StartsWith("-rwxr-xr-x root/root", StringComparison.Ordinal) && l.EndsWith($" ./usr/lib/ipop/{host}/{host}", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("lrwxrwxrwx root/root", StringComparison.Ordinal) && l.EndsWith($" ./usr/bin/{host} -> ../lib/ipop/{host}/{host}", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("-rw-r--r-- root/root", StringComparison.Ordinal) && l.EndsWith($" ./lib/systemd/system/{host}@.service", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("-rw-r--r-- root/root", StringComparison.Ordinal) && l.EndsWith($" ./etc/ipop/{conf}.example.json", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("drwx------ root/root", StringComparison.Ordinal) && l.EndsWith($" ./etc/ipop/{conf}/", StringComparison.Ordinal));
        }

        Assert.Contains(lines, l => l.EndsWith(" ./usr/share/doc/ipop/install.md", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith(" ./usr/share/doc/ipop/copyright", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.EndsWith(".dbg", StringComparison.Ordinal) || l.EndsWith(".pdb", StringComparison.Ordinal));

        // The maintainer scripts and conffiles: nothing is enabled or started; every file in /etc is a conffile.
        string control = Path.Combine(_dir, "control");
        Cmd.Run("dpkg-deb", "-e", deb, control);
        foreach (string script in (string[])["postinst", "prerm", "postrm"])
        {
            // Commands only: the comments may well say what the user runs to enable a node.
            string text = string.Join('\n', File.ReadAllLines(Path.Combine(control, script)).Where(l => !l.TrimStart().StartsWith('#')));
            Assert.Contains("exit 0", text, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"systemctl[^\n]*\b(enable|start|restart|try-restart|reload-or-restart)\b|deb-systemd-(helper|invoke)|invoke-rc\.d", text);
        }

        string[] conffiles = File.ReadAllLines(Path.Combine(control, "conffiles"));
        string[] etcFiles = [.. lines.Where(l => l[0] == '-' && l.Contains(" ./etc/", StringComparison.Ordinal)).Select(l => l[(l.IndexOf(" ./etc/", StringComparison.Ordinal) + 2)..]).Order()];
        Assert.Equal(etcFiles, conffiles.Order());

        // The packaged binary, run the way an installed one is: through /usr/bin's link, its libraries beside it.
        string tree = Path.Combine(_dir, "tree");
        Cmd.Run("dpkg-deb", "-x", deb, tree);
        string key = Path.Combine(_dir, "k.key");
        string publicKey = Cmd.Run(Path.Combine(tree, "usr/bin/ipop-tincan"), "genkey", "--key", key).Trim();
        Assert.Equal(44, publicKey.Length);

        if (File.Exists("/usr/bin/lintian"))
        {
            CommandResult lintian = Cmd.TryRun(TimeSpan.FromMinutes(2), "lintian", "--fail-on", "error", deb);
            Assert.True(lintian.ExitCode == 0, "lintian:\n" + lintian.StandardOutput + lintian.StandardError);
        }
        else
        {
            TestContext.Current.TestOutputHelper?.WriteLine("lintian is not installed: skipped");
        }
    }
}
