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
    [Fact]
    public async Task The_READMEs_program_built_from_the_packages_links_two_members_that_ping_each_other()
    {
        string program = BuildFromPackages(Path.Combine(lab.Directory, "readme-example"));
        string group = $"readme{Environment.ProcessId}@{lab.Xmpp.MucDomain}";
        LabNamespace nsA = await PrepareAsync("rda");
        LabNamespace nsB = await PrepareAsync("rdb");
        CreateGroup(nsA, "rda", group, "rdb");
        LabProcess a = Start(nsA, "rda", group, "198.19.0.1", program);
        LabProcess b = Start(nsB, "rdb", group, "198.19.0.2", program);

        var clock = Stopwatch.StartNew();
        bool aToB = await EventuallyPingsAsync(nsA, "198.19.0.2", TimeSpan.FromSeconds(60));
        bool bToA = aToB && await EventuallyPingsAsync(nsB, "198.19.0.1", TimeSpan.FromSeconds(30));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"a->b {aToB}, b->a {bToA} after {clock.Elapsed.TotalSeconds:F1} s"));
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
        string project = PackedSample.Prepare(Path.Combine("samples", "ReadmeExample"));
        CommandResult build = Cmd.TryRun(TimeSpan.FromMinutes(10), "dotnet", "build", project, "-c", "Release", "-o", output, "-nologo", "-v", "q");
        Assert.True(build.ExitCode == 0, "samples/ReadmeExample does not build from the packages:\n" + build.StandardOutput + build.StandardError);
        return Path.Combine(output, "ReadmeExample.dll");
    }

    private async Task<LabNamespace> PrepareAsync(string user)
    {
        await lab.RegisterAsync(user);
        Directory.CreateDirectory(Path.Combine(lab.Directory, user));
        return lab.Host(user, "public");
    }

    /// <summary>
    /// The group is a members-only room that its owner creates once with <c>groupvpn members add</c> (docs/groupvpn.md),
    /// as a README user does; the owner's config is only read for its XMPP account.
    /// </summary>
    private void CreateGroup(LabNamespace ns, string owner, string group, string member)
    {
        string dir = Path.Combine(lab.Directory, owner);
        var node = new ProductNode(lab.Lab, ns, "groupvpn", dir, new
        {
            Xmpp = lab.XmppSection(owner),
            Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "owner.key")),
            GroupVpn = new { Group = group, Subnet = "198.19.0.0/24" },
        });
        CommandResult r = node.Members("add", $"{member}@{lab.Xmpp.Domain}");
        Assert.True(r.ExitCode == 0, $"members add exited {r.ExitCode}: {r.StandardOutput}{r.StandardError}");
    }

    private LabProcess Start(LabNamespace ns, string user, string group, string address, string program)
    {
        string dir = Path.Combine(lab.Directory, user);

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
