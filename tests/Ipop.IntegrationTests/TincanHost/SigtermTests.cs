using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.TincanHost;

/// <summary>
/// Issue 11's "stop is boring": a service manager sends SIGTERM at any moment and must see exit code 0 within 2 s,
/// with the TUN device gone. Two <c>ipop-tincan</c> nodes with static peers are started and stopped over and over,
/// and each SIGTERM lands at a random moment: while the process starts, while the handshake runs, under an iperf3
/// load, or while its peer is shutting down too.
/// </summary>
public sealed class SigtermTests : IDisposable
{
    /// <summary>How many SIGTERMs one run sends (two per round: one to each node).</summary>
    private const int Signals = 50;

    private readonly NetworkLab _lab = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-sigterm-").FullName;
    private readonly LabNamespace _a;
    private readonly LabNamespace _b;

    public SigtermTests()
    {
        _a = _lab.AddNamespace("a");
        _b = _lab.AddNamespace("b");
        _lab.ConnectDirect(_a, "eth0", "198.18.0.1/24", _b, "eth0", "198.18.0.2/24");
    }

    /// <summary>When in a node's life the SIGTERM lands.</summary>
    private enum Moment
    {
        /// <summary>Anywhere from config loading to the first handshake: the two nodes are not yet ready.</summary>
        Starting,

        /// <summary>Both ready, the handshake (or its retries) in flight.</summary>
        Handshaking,

        /// <summary>An iperf3 TCP stream runs through the link.</summary>
        UnderLoad,

        /// <summary>The peer gets its SIGTERM first; this node gets one a few milliseconds later.</summary>
        PeerStopping,
    }

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Fifty_sigterms_at_random_moments_all_exit_0_within_2_s_and_remove_the_device()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int seed = Environment.GetEnvironmentVariable("IPOP_SIGTERM_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        TincanNodeProcess a = TincanNodeProcess.Create(_a, _dir);
        TincanNodeProcess b = TincanNodeProcess.Create(_b, _dir);
        string configA = WriteConfig(a, "198.19.0.1/24", b.PublicKey, "198.18.0.2:51820", "198.19.0.2/32");
        string configB = WriteConfig(b, "198.19.0.2/24", a.PublicKey, "198.18.0.1:51820", "198.19.0.1/32");

        var failures = new List<string>();
        var exitTimes = new List<double>();
        var counts = new Dictionary<Moment, int>();
        Moment[] moments = Enum.GetValues<Moment>();
        var total = Stopwatch.StartNew();
        for (int round = 0; round < Signals / 2; round++)
        {
            Moment moment = moments[round % moments.Length];
            counts[moment] = counts.GetValueOrDefault(moment) + 2;
            using LabProcess pa = _lab.Start(_a, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", configA));
            using LabProcess pb = _lab.Start(_b, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", configB));
            LabProcess? iperfServer = null;
            try
            {
                LabProcess first = pa;
                LabProcess second = pb;
                int gapMs = 0;
                switch (moment)
                {
                    case Moment.Starting:
                        // A cold start of the runtime takes about a second here; this spreads the signal over it.
                        await Task.Delay(random.Next(150, 1500), ct);
                        break;
                    case Moment.Handshaking:
                        await RequireReadyAsync(pa, pb);
                        await Task.Delay(random.Next(0, 60), ct);
                        break;
                    case Moment.UnderLoad:
                        await RequireReadyAsync(pa, pb);
                        Assert.True(_a.Ping("198.19.0.2", count: 1, deadlineSeconds: 10), $"round {round}: no link\n{pa}\n{pb}");
                        iperfServer = _lab.Start(_b, "iperf3", ["-s", "-1", "-B", "198.19.0.2"]);
                        await Task.Delay(300, ct);
                        using (LabProcess client = _lab.Start(_a, "iperf3", ["-c", "198.19.0.2", "-t", "3"]))
                        {
                            await Task.Delay(random.Next(400, 1200), ct);
                            (first, second) = random.Next(2) == 0 ? (pa, pb) : (pb, pa);
                            gapMs = random.Next(0, 300);
                            Stop(round, moment, first, second, gapMs, failures, exitTimes);
                        }

                        continue;
                    case Moment.PeerStopping:
                        await RequireReadyAsync(pa, pb);
                        Assert.True(_a.Ping("198.19.0.2", count: 1, deadlineSeconds: 10), $"round {round}: no link\n{pa}\n{pb}");
                        (first, second) = random.Next(2) == 0 ? (pa, pb) : (pb, pa);
                        gapMs = random.Next(0, 40);
                        break;
                }

                Stop(round, moment, first, second, gapMs, failures, exitTimes);
            }
            finally
            {
                iperfServer?.Dispose();
            }
        }

        total.Stop();
        exitTimes.Sort();
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {exitTimes.Count} SIGTERMs ({string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}"))}), {failures.Count} failed; " +
            $"exit time median {exitTimes[exitTimes.Count / 2]:F0} ms, max {exitTimes[^1]:F0} ms; run took {total.Elapsed.TotalSeconds:F0} s");
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        Assert.True(failures.Count == 0, summary + "\n" + string.Join("\n\n", failures));
    }

    private static async Task RequireReadyAsync(LabProcess pa, LabProcess pb)
    {
        Assert.True(await pa.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(20)), $"a did not start:\n{pa}");
        Assert.True(await pb.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(20)), $"b did not start:\n{pb}");
    }

    /// <summary>SIGTERMs <paramref name="first"/>, then <paramref name="second"/> after <paramref name="gapMs"/>, and checks how each one ended.</summary>
    private void Stop(int round, Moment moment, LabProcess first, LabProcess second, int gapMs, List<string> failures, List<double> exitTimes)
    {
        var sw1 = Stopwatch.StartNew();
        SigtermExit.Send(first);
        Thread.Sleep(gapMs);
        var sw2 = Stopwatch.StartNew();
        SigtermExit.Send(second);
        Check(round, moment, first, sw1, failures, exitTimes);
        Check(round, moment, second, sw2, failures, exitTimes);
    }

    private void Check(int round, Moment moment, LabProcess p, Stopwatch sinceSignal, List<string> failures, List<double> exitTimes)
    {
        LabNamespace ns = p.Description.EndsWith(" a", StringComparison.Ordinal) ? _a : _b;
        List<string> problems = SigtermExit.Check(p, ns, "ipop0", sinceSignal, exitTimes);
        if (problems.Count > 0)
        {
            failures.Add($"round {round} ({moment}), node {ns.Role}: {string.Join("; ", problems)}\n{p}");
        }
    }

    private string WriteConfig(TincanNodeProcess node, string address, string peerKey, string peerEndpoint, string allowed)
    {
        var config = new
        {
            Tincan = new { ListenPort = 51820, PrivateKeyPath = node.KeyPath },
            Interface = new { Name = "ipop0", Mode = "tun", Mtu = 1420, Addresses = new[] { address } },
            Peers = new[] { TincanNodeProcess.Peer("peer", peerKey, peerEndpoint, allowed) },
            StatusIntervalSeconds = 1,
        };
        string path = Path.Combine(_dir, node.Namespace.Role + ".json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        return path;
    }
}
