using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 13, a moving underlay: a node whose address changes gets its link back without a restart. Two
/// <c>ipop-tincan</c> hosts on one segment with static peers (no signaling): renumbering one side
/// (<c>ip addr del/add</c> in its namespace) is recovered by the moved side announcing itself from its new address,
/// which the other side follows. The time from the change to the first ping reply through the tunnel (pings every
/// 0.1 s) is measured. Also issue 13's lossy starts: 20 link starts with 10 % loss both ways (random drops on input), all within 3 s.
/// </summary>
public sealed partial class RoamingTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>Issue 13's target for a direct link is 2 s; the assertion leaves room for a loaded 2-core CI machine.</summary>
    private static readonly TimeSpan DirectRecoveryBound = TimeSpan.FromSeconds(4);

    private readonly NetworkLab _lab = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-roam-").FullName;

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("b")]
    public async Task A_renumbered_node_gets_its_direct_link_back_within_two_seconds(string moves)
    {
        (LabNamespace a, LabNamespace b, TincanNodeProcess pa, TincanNodeProcess pb) = await StartPairAsync();
        Assert.True(b.Ping("198.19.0.1", count: 2, deadlineSeconds: 10), Diagnose(pa, pb));
        Assert.True(a.Ping("198.19.0.2", count: 2, deadlineSeconds: 10), Diagnose(pa, pb));

        // The side that did not move pings the one that did: its packets go to the old address until the moved side
        // has announced itself (without roaming, until its next persistent keepalive, 10 s later).
        (LabNamespace mover, string oldAddress, string newAddress, LabNamespace pinger, string target) = moves == "a"
            ? (a, "198.18.0.1/24", "198.18.0.11/24", b, "198.19.0.1")
            : (b, "198.18.0.2/24", "198.18.0.12/24", a, "198.19.0.2");
        TimeSpan? recovered = await RenumberAndMeasureAsync(mover, oldAddress, newAddress, pinger, target);
        output.WriteLine($"{moves} renumbered: first ping reply through the tunnel after {Describe(recovered)}");
        Assert.True(recovered is { } t && t < DirectRecoveryBound, $"no reply within {DirectRecoveryBound.TotalSeconds} s ({Describe(recovered)})\n{Diagnose(pa, pb)}");

        // The moved side saw the change itself (its log line may trail a reply that came first).
        LabProcess moved = (moves == "a" ? pa : pb).Process!;
        Assert.True(await moved.WaitForOutputAsync("Local addresses changed", TimeSpan.FromSeconds(5)), moved.Output);
    }

    [Fact]
    public async Task Twenty_link_starts_with_ten_percent_loss_both_ways_all_connect_within_three_seconds()
    {
        const int Starts = 20;
        LabNamespace a = _lab.AddNamespace("a");
        LabNamespace b = _lab.AddNamespace("b");
        _lab.ConnectDirect(a, "eth0", "198.18.0.1/24", b, "eth0", "198.18.0.2/24");

        // 10 % of what arrives on each side is dropped, so each direction loses 10 %. (netem is not available on every
        // kernel the lab runs on; a random drop on input is the same loss and tells the sender nothing.)
        foreach (LabNamespace ns in new[] { a, b })
        {
            ns.Exec("iptables", "-A", "INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP");
        }

        TincanNodeProcess pa = TincanNodeProcess.Create(a, _dir);
        TincanNodeProcess pb = TincanNodeProcess.Create(b, _dir);

        // a runs throughout; each start is b starting and creating its link, which reports how long it took from its
        // creation to Connected (a is up, so the number is the handshake's, with its retransmissions).
        await pa.StartAsync(_lab, "tun", 51820, ["198.19.0.1/24"], [TincanNodeProcess.Peer("b", pb.PublicKey, "198.18.0.2:51820", "198.19.0.2/32")]);
        var times = new List<double>();
        for (int i = 0; i < Starts; i++)
        {
            await pb.StartAsync(_lab, "tun", 51820, ["198.19.0.2/24"], [TincanNodeProcess.Peer("a", pa.PublicKey, "198.18.0.1:51820", "198.19.0.1/32")]);
            Assert.True(await pb.Process!.WaitForOutputAsync("connected over", TimeSpan.FromSeconds(20)), Diagnose(pa, pb));
            Match m = ConnectedIn().Match(pb.Process.Output);
            Assert.True(m.Success, pb.Process.Output);
            double ms = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            times.Add(ms);
            if (ms > 1000)
            {
                output.WriteLine($"start {i} took {ms:F0} ms; b:\n{pb.Process.Output}\na (last lines):\n{string.Join('\n', pa.Process!.Output.Split('\n').TakeLast(15))}");
            }

            pb.Process.Dispose();
        }

        times.Sort();
        output.WriteLine($"{Starts} starts with 10 % loss both ways: median {times[Starts / 2]:F0} ms, max {times[^1]:F0} ms; all: {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))}");
        Assert.True(times[^1] < 3000, $"the slowest start took {times[^1]:F0} ms");
    }

    private async Task<(LabNamespace A, LabNamespace B, TincanNodeProcess PA, TincanNodeProcess PB)> StartPairAsync()
    {
        LabNamespace a = _lab.AddNamespace("a");
        LabNamespace b = _lab.AddNamespace("b");
        _lab.ConnectDirect(a, "eth0", "198.18.0.1/24", b, "eth0", "198.18.0.2/24");
        TincanNodeProcess pa = TincanNodeProcess.Create(a, _dir);
        TincanNodeProcess pb = TincanNodeProcess.Create(b, _dir);
        await pa.StartAsync(_lab, "tun", 51820, ["198.19.0.1/24"], [TincanNodeProcess.Peer("b", pb.PublicKey, "198.18.0.2:51820", "198.19.0.2/32")]);
        await pb.StartAsync(_lab, "tun", 51820, ["198.19.0.2/24"], [TincanNodeProcess.Peer("a", pa.PublicKey, "198.18.0.1:51820", "198.19.0.1/32")]);
        return (a, b, pa, pb);
    }

    /// <summary>
    /// Moves <paramref name="mover"/> from <paramref name="oldAddress"/> to <paramref name="newAddress"/> on eth0 (the
    /// connected route comes with the address) and returns the time until <paramref name="pinger"/> gets its first
    /// reply from <paramref name="target"/> through the tunnel, pinging every 0.1 s for at most 10 s; null if none.
    /// </summary>
    internal static async Task<TimeSpan?> RenumberAndMeasureAsync(LabNamespace mover, string oldAddress, string newAddress, LabNamespace pinger, string target, string device = "eth0", Action? restoreRoutes = null)
    {
        var clock = Stopwatch.StartNew();
        mover.Exec("ip", "addr", "del", oldAddress, "dev", device);
        mover.Exec("ip", "addr", "add", newAddress, "dev", device);
        restoreRoutes?.Invoke();
        return await FirstReplyAsync(pinger, target, clock, TimeSpan.FromSeconds(10));
    }

    /// <summary>Pings every 0.1 s until the first reply (at most <paramref name="within"/>); the time on <paramref name="clock"/> then, or null.</summary>
    internal static async Task<TimeSpan?> FirstReplyAsync(LabNamespace pinger, string target, Stopwatch clock, TimeSpan within)
    {
        string deadline = ((int)within.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        CommandResult r = await Task.Run(() => pinger.TryExec(within + TimeSpan.FromSeconds(5), "ping", "-4", "-n", "-c", "1", "-i", "0.1", "-w", deadline, target));
        return r.ExitCode == 0 ? clock.Elapsed : null;
    }

    private static string Describe(TimeSpan? t) => t is { } v ? $"{v.TotalMilliseconds:F0} ms" : "none";

    private static string Diagnose(TincanNodeProcess a, TincanNodeProcess b) => $"a:\n{a.Process?.Output}\n----\nb:\n{b.Process?.Output}";

    [GeneratedRegex(@"connected over \S+: .* in (\d+) ms")]
    private static partial Regex ConnectedIn();
}
