using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 13, item 2: an MTU black hole. Two <c>ipop-tincan</c> nodes whose underlay crosses two routers; the hop
/// between the routers has a smaller MTU and both routers drop the ICMP "fragmentation needed" / ICMPv6 "packet too
/// big" they would send (both directions), so the underlay silently loses every datagram above the hop's MTU. The
/// tunnel MTU stays at its default (1,420). TCP must still flow both ways at a good fraction of an unconstrained
/// run of the same topology, and a too-large ping with DF must be answered by the TUN instead of vanishing.
/// </summary>
public sealed partial class PathMtuTests(ITestOutputHelper output)
{
    private const int SmallHop = 1280;
    private const int PathInner = SmallHop - 20 - 8 - 32; // IPv4 + UDP + transport header + tag: 1,220

    [Fact]
    public async Task Tcp_crosses_an_mtu_black_hole_both_ways_and_a_big_ping_gets_frag_needed_from_the_tun()
    {
        // Both topologies exist at once and their iperf3 runs alternate, so a slower or faster stretch of a shared
        // machine falls on both sides of the ratio (measured one after the other, the first topology's best run came
        // from a faster minute: 0.67 once on CI for a ratio that is 0.75-1.37 when interleaved).
        using var wideLab = new NetworkLab();
        using var narrowLab = new NetworkLab();
        string dir = Directory.CreateTempSubdirectory("ipop-pmtu-").FullName;
        try
        {
            Topology wide = await StartTopologyAsync(wideLab, 1500, dir);
            Topology narrow = await StartTopologyAsync(narrowLab, SmallHop, dir);
            using LabProcess wideServer = wideLab.Start(wide.B, "iperf3", ["-s", "-B", "198.19.0.2"]);
            using LabProcess narrowServer = narrowLab.Start(narrow.B, "iperf3", ["-s", "-B", "198.19.0.2"]);
            await Task.Delay(500, TestContext.Current.CancellationToken);

            // Best of three short runs per direction and topology, alternating.
            double wideForward = 0, wideReverse = 0, narrowForward = 0, narrowReverse = 0;
            for (int i = 0; i < 3; i++)
            {
                wideForward = Math.Max(wideForward, Iperf(wide.A, reverse: false, wide.NodeA, wide.NodeB));
                narrowForward = Math.Max(narrowForward, Iperf(narrow.A, reverse: false, narrow.NodeA, narrow.NodeB));
                wideReverse = Math.Max(wideReverse, Iperf(wide.A, reverse: true, wide.NodeA, wide.NodeB));
                narrowReverse = Math.Max(narrowReverse, Iperf(narrow.A, reverse: true, narrow.NodeA, narrow.NodeB));
            }

            // Larger than the path, smaller than the TUN MTU: the TUN answers with the size that crosses.
            CommandResult big = narrow.A.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", "1300", "-c", "2", "-i", "0.5", "-W", "2", "198.19.0.2");
            string ping = big.StandardOutput + big.StandardError;
            CommandResult fits = narrow.A.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", (PathInner - 28).ToString(CultureInfo.InvariantCulture), "-c", "2", "-W", "2", "198.19.0.2");
            Assert.True(fits.ExitCode == 0, $"a ping of exactly the path's size was lost:\n{fits.StandardOutput}");

            output.WriteLine($"hop MTU 1500: PLPMTU {wide.Plpmtu} found in {wide.FoundMs} ms; a->b {wideForward / 1e6:F0} Mbit/s, b->a {wideReverse / 1e6:F0} Mbit/s");
            output.WriteLine($"hop MTU {SmallHop}: PLPMTU {narrow.Plpmtu} found in {narrow.FoundMs} ms; a->b {narrowForward / 1e6:F0} Mbit/s, b->a {narrowReverse / 1e6:F0} Mbit/s");
            output.WriteLine($"ratios: a->b {narrowForward / wideForward:F2}, b->a {narrowReverse / wideReverse:F2}");
            output.WriteLine(ping);

            Assert.Equal(1420 + 18 + 60, wide.Plpmtu); // the largest payload (tunnel MTU + frame allowance) crosses the 1,500 hop
            Assert.Equal(SmallHop, narrow.Plpmtu);
            Assert.True(narrowForward > 0 && narrowReverse > 0, "TCP stalled in a black hole");
            Assert.True(narrowForward >= 0.7 * wideForward, $"a->b {narrowForward / 1e6:F0} Mbit/s < 0.7 x {wideForward / 1e6:F0}");
            Assert.True(narrowReverse >= 0.7 * wideReverse, $"b->a {narrowReverse / 1e6:F0} Mbit/s < 0.7 x {wideReverse / 1e6:F0}");
            Assert.Matches(MtuInPing(), ping);
        }
        finally
        {
            narrowLab.Dispose();
            wideLab.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_path_that_shrinks_under_a_running_tcp_transfer_is_detected_as_a_black_hole_and_tcp_recovers()
    {
        using var lab = new NetworkLab();
        string dir = Directory.CreateTempSubdirectory("ipop-pmtu-").FullName;
        try
        {
            (LabNamespace a, LabNamespace r1, LabNamespace r2, LabNamespace b) = BuildUnderlay(lab, 1500);
            (TincanNodeProcess na, TincanNodeProcess nb) = await StartNodesAsync(lab, a, b, dir);
            Match found = await PathMtuLineAsync(na.Process!, "b");
            Assert.True(found.Success && found.Groups["underlay"].Value == "1498", na.Process!.Output);

            using LabProcess server = lab.Start(b, "iperf3", ["-s", "-1", "-B", "198.19.0.2"]);
            await Task.Delay(500, TestContext.Current.CancellationToken);
            using LabProcess client = lab.Start(a, "iperf3", ["-c", "198.19.0.2", "-t", "30", "-i", "1", "-f", "m", "--forceflush"]);
            await Task.Delay(3000, TestContext.Current.CancellationToken);

            // The hop between the routers shrinks mid-transfer (a new tunnel, a PPPoE link): full-size datagrams now vanish.
            long shrunk = Environment.TickCount64;
            r1.Exec("ip", "link", "set", "e1", "mtu", "1280");
            r2.Exec("ip", "link", "set", "e1", "mtu", "1280");

            Assert.True(await na.Process!.WaitForOutputAsync("Link b: path MTU probes of the size in use stopped getting through", TimeSpan.FromSeconds(30)), na.Process.Output);
            long detectedMs = Environment.TickCount64 - shrunk;
            Assert.True(await na.Process.WaitForOutputAsync("Link b: path MTU 1280 bytes", TimeSpan.FromSeconds(30)), na.Process.Output);
            long refoundMs = Environment.TickCount64 - shrunk;
            Assert.True(client.WaitForExit(TimeSpan.FromSeconds(45)), client.Output);
            output.WriteLine($"black hole detected {detectedMs} ms after the shrink, 1280 found after {refoundMs} ms");
            output.WriteLine(client.Output);

            // The last five one-second intervals moved data: the running connection lowered its MSS on the TUN's answers.
            double[] intervals = [.. IperfInterval().Matches(client.Output).Select(m => double.Parse(m.Groups["mbits"].Value, CultureInfo.InvariantCulture))];
            Assert.True(intervals.Length >= 28, client.Output);
            Assert.True(intervals[^7..^2].All(v => v > 0), $"TCP did not recover after the black hole:\n{client.Output}");
        }
        finally
        {
            lab.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record Topology(LabNamespace A, LabNamespace B, TincanNodeProcess NodeA, TincanNodeProcess NodeB, int Plpmtu, long FoundMs);

    /// <summary>The underlay at <paramref name="hopMtu"/> (checked to be a black hole when smaller), two linked nodes, and the PLPMTU both found.</summary>
    private static async Task<Topology> StartTopologyAsync(NetworkLab lab, int hopMtu, string dir)
    {
        (LabNamespace a, _, _, LabNamespace b) = BuildUnderlay(lab, hopMtu);
        if (hopMtu < 1500)
        {
            // The black hole is real: a DF packet above the hop gets neither an answer nor an error on the underlay.
            CommandResult probe = a.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", "1300", "-c", "2", "-W", "1", "198.18.22.1");
            Assert.NotEqual(0, probe.ExitCode);
            Assert.DoesNotContain("Frag needed", probe.StandardOutput, StringComparison.Ordinal);
            Assert.True(a.Ping("198.18.22.1"), "the underlay does not route small packets");
        }

        string nodes = Path.Combine(dir, hopMtu.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(nodes);
        (TincanNodeProcess na, TincanNodeProcess nb) = await StartNodesAsync(lab, a, b, nodes);

        // Both links report what they found (the TCP runs start after it, so their SYNs are clamped to it).
        (Match found, Match foundB) = await PathMtuLinesAsync(na, nb);
        int plpmtu = int.Parse(found.Groups["underlay"].Value, CultureInfo.InvariantCulture);
        Assert.Equal(plpmtu, int.Parse(foundB.Groups["underlay"].Value, CultureInfo.InvariantCulture));
        return new Topology(a, b, na, nb, plpmtu, long.Parse(found.Groups["ms"].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>a -- r1 ==(hopMtu)== r2 -- b, an IPv4 underlay whose routers drop the ICMP errors they would send.</summary>
    private static (LabNamespace A, LabNamespace R1, LabNamespace R2, LabNamespace B) BuildUnderlay(NetworkLab lab, int hopMtu)
    {
        LabNamespace a = lab.AddNamespace("pa");
        LabNamespace r1 = lab.AddNamespace("pr1");
        LabNamespace r2 = lab.AddNamespace("pr2");
        LabNamespace b = lab.AddNamespace("pb");
        lab.ConnectDirect(a, "eth0", "198.18.20.1/24", r1, "e0", "198.18.20.2/24");
        lab.ConnectDirect(r1, "e1", "198.18.21.1/24", r2, "e1", "198.18.21.2/24");
        lab.ConnectDirect(r2, "e0", "198.18.22.2/24", b, "eth0", "198.18.22.1/24");
        a.Exec("ip", "route", "add", "default", "via", "198.18.20.2");
        b.Exec("ip", "route", "add", "default", "via", "198.18.22.2");
        r1.Exec("ip", "route", "add", "198.18.22.0/24", "via", "198.18.21.2");
        r2.Exec("ip", "route", "add", "198.18.20.0/24", "via", "198.18.21.1");
        foreach (LabNamespace r in new[] { r1, r2 })
        {
            r.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
            r.Exec("ip", "link", "set", "e1", "mtu", hopMtu.ToString(CultureInfo.InvariantCulture));
            r.Exec("iptables", "-A", "OUTPUT", "-p", "icmp", "--icmp-type", "fragmentation-needed", "-j", "DROP");
            r.Exec("iptables", "-A", "FORWARD", "-p", "icmp", "--icmp-type", "fragmentation-needed", "-j", "DROP");
            r.Exec("ip6tables", "-A", "OUTPUT", "-p", "icmpv6", "--icmpv6-type", "packet-too-big", "-j", "DROP");
            r.Exec("ip6tables", "-A", "FORWARD", "-p", "icmpv6", "--icmpv6-type", "packet-too-big", "-j", "DROP");
        }

        return (a, r1, r2, b);
    }

    private static async Task<(TincanNodeProcess A, TincanNodeProcess B)> StartNodesAsync(NetworkLab lab, LabNamespace a, LabNamespace b, string dir)
    {
        TincanNodeProcess na = TincanNodeProcess.Create(a, dir);
        TincanNodeProcess nb = TincanNodeProcess.Create(b, dir);
        await na.StartAsync(lab, "tun", 51820, ["198.19.0.1/24", "2001:2:0:1::1/64"],
            [TincanNodeProcess.Peer("b", nb.PublicKey, "198.18.22.1:51820", "198.19.0.2/32", "2001:2:0:1::2/128")]);
        await nb.StartAsync(lab, "tun", 51820, ["198.19.0.2/24", "2001:2:0:1::2/64"],
            [TincanNodeProcess.Peer("a", na.PublicKey, "198.18.20.1:51820", "198.19.0.1/32", "2001:2:0:1::1/128")]);
        Assert.True(a.Ping("198.19.0.2", count: 2, deadlineSeconds: 15), $"{na.Process}\n{nb.Process}");
        return (na, nb);
    }

    /// <summary>Waits for both links' path MTU log lines (a's link to b, b's to a); fails with both processes' output when either is missing.</summary>
    private static async Task<(Match A, Match B)> PathMtuLinesAsync(TincanNodeProcess na, TincanNodeProcess nb)
    {
        Match found = await PathMtuLineAsync(na.Process!, "b");
        Match foundB = await PathMtuLineAsync(nb.Process!, "a");
        Assert.True(found.Success && foundB.Success, $"no path MTU line\n{na.Process}\n{nb.Process}");
        return (found, foundB);
    }

    private static async Task<Match> PathMtuLineAsync(LabProcess process, string peer)
    {
        for (int i = 0; i < 150; i++)
        {
            Match m = PathMtuLine().Match(process.Output);
            if (m.Success && m.Groups["peer"].Value == peer)
            {
                return m;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        return Match.Empty;
    }

    private double Iperf(LabNamespace client, bool reverse, TincanNodeProcess na, TincanNodeProcess nb)
    {
        string[] args = reverse
            ? ["-c", "198.19.0.2", "-t", "3", "-J", "-R"]
            : ["-c", "198.19.0.2", "-t", "3", "-J"];
        // iperf3 now and then exits 0 with a report that has no end.sum_received (its control connection lost a race on
        // a loaded machine; the JSON's "error" says so): one more run then, and a failure that shows the report.
        double bps = 0;
        string report = string.Empty;
        for (int attempt = 0; attempt < 2 && bps == 0; attempt++)
        {
            CommandResult run = client.TryExec(TimeSpan.FromSeconds(30), "iperf3", args);
            Assert.True(run.ExitCode == 0, $"iperf3 {(reverse ? "-R " : string.Empty)}failed: {run.StandardError}\n{run.StandardOutput}\n{na.Process}\n{nb.Process}");
            report = run.StandardOutput;
            using JsonDocument json = JsonDocument.Parse(report);
            if (json.RootElement.TryGetProperty("end", out JsonElement end) && end.TryGetProperty("sum_received", out JsonElement received))
            {
                bps = received.GetProperty("bits_per_second").GetDouble();
            }
        }

        Assert.True(bps > 0, $"iperf3 {(reverse ? "-R " : string.Empty)}reported no received sum twice; the last report:\n{report}");
        output.WriteLine($"iperf3 {(reverse ? "b->a" : "a->b")}: {bps / 1e6:F0} Mbit/s");
        return bps;
    }

    [GeneratedRegex(@"Link (?<peer>\w+): path MTU (?<underlay>\d+) bytes on the underlay .* \(found in (?<ms>\d+) ms\)")]
    private static partial Regex PathMtuLine();

    [GeneratedRegex(@"sec\s+[\d.]+ [KMG]?Bytes\s+(?<mbits>[\d.]+) Mbits/sec\s+\d+")]
    private static partial Regex IperfInterval();

    [GeneratedRegex(@"mtu ?= ?1220")]
    private static partial Regex MtuInPing();
}
