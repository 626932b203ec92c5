using System.Diagnostics;
using System.Globalization;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Sdk;

/// <summary>
/// Issue 15: the README's program works as pasted. samples/ReadmeExample (its Program.cs is the README's first block,
/// see <see cref="DocSnippetTests"/>; its Snippets/ the other blocks) is built once from the packed packages only, as an
/// outside user builds it; two copies run in two network namespaces with the lab's prosody as GroupVPN members, configured
/// on the command line as the README shows, and ping each other over the overlay. SIGTERM then stops both with exit 0.
/// </summary>
public sealed class ReadmeExampleTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>
{
    private readonly Dictionary<string, LabNamespace> _namespaces = [];

    [Fact]
    public async Task The_READMEs_program_built_from_the_packages_links_two_members_that_ping_each_other()
    {
        string program = BuildFromPackages(Path.Combine(lab.Directory, "readme-example"));
        string group = $"readme{Environment.ProcessId}@{lab.Xmpp.MucDomain}";
        LabProcess a = await StartAsync("rda", group, "198.19.0.1", program);
        LabProcess b = await StartAsync("rdb", group, "198.19.0.2", program);
        LabNamespace nsA = _namespaces["rda"];
        LabNamespace nsB = _namespaces["rdb"];

        var clock = Stopwatch.StartNew();
        bool aToB = await EventuallyPingsAsync(nsA, "198.19.0.2", TimeSpan.FromSeconds(60));
        bool bToA = aToB && await EventuallyPingsAsync(nsB, "198.19.0.1", TimeSpan.FromSeconds(30));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"both ping after {clock.Elapsed.TotalSeconds:F1} s"));
        Assert.True(aToB && bToA, $"a->b {aToB}, b->a {bToA}\n{a}\n{b}");

        // The packaged hosted service stops the controller (links, interface), then Tincan: a clean exit 0, no device.
        foreach ((LabProcess p, LabNamespace ns) in new[] { (a, nsA), (b, nsB) })
        {
            Assert.True(p.Terminate(TimeSpan.FromSeconds(10)), $"no exit within 10 s of SIGTERM\n{p}");
            Assert.True(p.ExitCode == 0, $"exit code {p.ExitCode}\n{p}");
            Assert.False(ns.TryExec(TimeSpan.FromSeconds(5), "ip", "link", "show", "ipop0").ExitCode == 0, $"ipop0 is still there after exit\n{p}");
        }
    }

    /// <summary>Builds the sample once, from a fresh restore of the local feed, into <paramref name="output"/>; returns its dll.</summary>
    private static string BuildFromPackages(string output)
    {
        string root = Artifacts.RepositoryRoot;
        string feed = Path.Combine(root, "artifacts", "packages");
        if (!Directory.Exists(feed) || !Directory.EnumerateFiles(feed, "Ipop.Hosting.*.nupkg").Any())
        {
            // Outside scripts/test.sh (which packs first), make the feed here.
            Cmd.Run(TimeSpan.FromMinutes(10), "dotnet", "pack", Path.Combine(root, "Ipop.sln"), "-c", "Release", "-o", feed, "-v", "q");
        }

        string project = DocSnippets.SampleDirectory;
        string obj = Path.Combine(project, "obj");
        if (Directory.Exists(obj))
        {
            Directory.Delete(obj, recursive: true); // a fresh restore from the feed every time
        }

        CommandResult build = Cmd.TryRun(TimeSpan.FromMinutes(10), "dotnet", "build", project, "-c", "Release", "-o", output, "-nologo", "-v", "q");
        Assert.True(build.ExitCode == 0, "samples/ReadmeExample does not build from the packages:\n" + build.StandardOutput + build.StandardError);
        return Path.Combine(output, "ReadmeExample.dll");
    }

    private async Task<LabProcess> StartAsync(string user, string group, string address, string program)
    {
        await lab.RegisterAsync(user);
        LabNamespace ns = lab.Host(user, "public");
        _namespaces[user] = ns;
        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);

        // The README's way: every setting on the command line, as configuration keys.
        string[] args =
        [
            program,
            $"--Xmpp:Jid={user}@{lab.Xmpp.Domain}",
            $"--Xmpp:Password=pw-{user}",
            $"--Xmpp:Server={lab.Xmpp.Address}",
            string.Create(CultureInfo.InvariantCulture, $"--Xmpp:Port={lab.Xmpp.Port}"),
            $"--Xmpp:TrustedCaFile={lab.Xmpp.CertificatePath}",
            $"--Tincan:PrivateKeyPath={Path.Combine(dir, "node.key")}",
            "--Tincan:StunServers:0:Host=198.18.0.3",
            "--Tincan:StunServers:0:Port=3478",
            $"--GroupVpn:Group={group}",
            "--GroupVpn:Subnet=198.19.0.0/24",
            $"--GroupVpn:Address={address}",
        ];

        // The content root (appsettings.json) is the working directory of the test: keep the environment explicit.
        return lab.Lab.Start(ns, "dotnet", args, new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production", ["DOTNET_NOLOGO"] = "1" });
    }

    private static async Task<bool> EventuallyPingsAsync(LabNamespace from, string to, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if (from.Ping(to, count: 1, intervalSeconds: 0.2, deadlineSeconds: 1))
            {
                return true;
            }

            await Task.Yield();
        }

        return false;
    }
}
