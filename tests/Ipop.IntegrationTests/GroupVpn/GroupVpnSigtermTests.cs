using System.Diagnostics;
using System.Globalization;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.GroupVpn;

/// <summary>
/// Issue 11's "stop is boring" for the GroupVPN host: two members are started and stopped over and over, and each
/// SIGTERM lands at a random moment in their first seconds, while XMPP is still connecting, while the room is
/// joined, while the members handshake, or while the other member is stopping too. Every one must exit 0 within 2 s
/// and leave no device. (The SocialVPN host shares the same hosting code.)
/// </summary>
public sealed class GroupVpnSigtermTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>
{
    private const int Rounds = 10;

    [Fact]
    public async Task Sigterms_at_random_moments_of_a_members_start_all_exit_0_within_2_s_and_remove_the_device()
    {
        int seed = Random.Shared.Next();
        var random = new Random(seed);
        string group = $"sig{Environment.ProcessId}@{lab.Xmpp.MucDomain}";
        (ProductNode a, LabNamespace nsA) = await MemberAsync("sga", group, "198.19.0.1");
        (ProductNode b, LabNamespace nsB) = await MemberAsync("sgb", group, "198.19.0.2");
        var failures = new List<string>();
        var times = new List<double>();
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                using LabProcess pa = lab.Lab.Start(nsA, Artifacts.GroupVpnHost.FileName, Artifacts.GroupVpnHost.Args("run", "--config", a.ConfigPath));
                using LabProcess pb = lab.Lab.Start(nsB, Artifacts.GroupVpnHost.FileName, Artifacts.GroupVpnHost.Args("run", "--config", b.ConfigPath));

                // 0.3 s to 4 s covers a cold start, the XMPP login, the room join and the first handshakes.
                await Task.Delay(random.Next(300, 4000), TestContext.Current.CancellationToken);
                (LabProcess first, LabNamespace nsFirst, LabProcess second, LabNamespace nsSecond) = random.Next(2) == 0 ? (pa, nsA, pb, nsB) : (pb, nsB, pa, nsA);
                var sw1 = Stopwatch.StartNew();
                SigtermExit.Send(first);
                await Task.Delay(random.Next(0, 50), TestContext.Current.CancellationToken);
                var sw2 = Stopwatch.StartNew();
                SigtermExit.Send(second);
                Check(round, first, nsFirst, sw1, failures, times);
                Check(round, second, nsSecond, sw2, failures, times);
            }
        }
        finally
        {
            a.Dispose();
            b.Dispose();
        }

        times.Sort();
        string summary = string.Create(CultureInfo.InvariantCulture, $"seed {seed}: {times.Count} SIGTERMs, {failures.Count} failed; exit time median {times[times.Count / 2]:F0} ms, max {times[^1]:F0} ms");
        output.WriteLine(summary);
        Assert.True(failures.Count == 0, summary + "\n" + string.Join("\n\n", failures));
    }

    private async Task<(ProductNode Node, LabNamespace Namespace)> MemberAsync(string user, string group, string address)
    {
        await lab.RegisterAsync(user);
        LabNamespace ns = lab.Host(user, "public");
        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(lab.Lab, ns, "groupvpn", dir, new
        {
            Xmpp = lab.XmppSection(user),
            Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "node.key")),
            GroupVpn = new { Group = group, Subnet = "198.19.0.0/24", Address = address, InterfaceName = "ipop0" },
            Status = new { SocketPath = Path.Combine(dir, "status.sock") },
        });
        return (node, ns);
    }

    private static void Check(int round, LabProcess p, LabNamespace ns, Stopwatch sinceSignal, List<string> failures, List<double> times)
    {
        List<string> problems = SigtermExit.Check(p, ns, "ipop0", sinceSignal, times);
        if (problems.Count > 0)
        {
            failures.Add($"round {round}, {ns.Role}: {string.Join("; ", problems)}\n{p}");
        }
    }
}
