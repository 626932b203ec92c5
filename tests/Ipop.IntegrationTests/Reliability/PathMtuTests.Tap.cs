using System.Globalization;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// The same IPv4 black hole with both nodes in switch (TAP) mode: a too-big ping with DF is answered on the TAP with
/// "fragmentation needed" from the station it was sent to, instead of vanishing, and TCP crosses both ways.
/// </summary>
public sealed partial class PathMtuTests
{
    // What a frame over the 1,280-byte hop leaves for its IP packet: the path's inner bytes less the Ethernet header.
    private const int PathIpInFrame = PathInner - 14;

    [Fact]
    public async Task In_switch_mode_a_big_ping_gets_frag_needed_from_the_tap_and_tcp_crosses_the_black_hole_both_ways()
    {
        using var lab = new NetworkLab();
        string dir = Directory.CreateTempSubdirectory("ipop-pmtu-tap-").FullName;
        try
        {
            (LabNamespace a, _, _, LabNamespace b) = BuildUnderlay(lab, SmallHop);
            TincanNodeProcess na = TincanNodeProcess.Create(a, dir);
            TincanNodeProcess nb = TincanNodeProcess.Create(b, dir);
            await na.StartAsync(lab, "tap", 51820, ["198.19.0.1/24"], [TincanNodeProcess.Peer("b", nb.PublicKey, "198.18.22.1:51820")], "02:00:00:00:13:01");
            await nb.StartAsync(lab, "tap", 51820, ["198.19.0.2/24"], [TincanNodeProcess.Peer("a", na.PublicKey, "198.18.20.1:51820")], "02:00:00:00:13:02");
            Assert.True(a.Ping("198.19.0.2", count: 2, deadlineSeconds: 15), $"{na.Process}\n{nb.Process}");

            (Match found, Match foundB) = await PathMtuLinesAsync(na, nb);
            output.WriteLine($"TAP, hop MTU {SmallHop}: PLPMTU {found.Groups["underlay"].Value} found in {found.Groups["ms"].Value} ms (b: {foundB.Groups["underlay"].Value})");
            Assert.Equal(SmallHop.ToString(CultureInfo.InvariantCulture), found.Groups["underlay"].Value);

            // Larger than the path, smaller than the TAP's MTU: answered locally, naming the IP bytes a frame carries.
            CommandResult big = a.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", "1300", "-c", "2", "-i", "0.5", "-W", "2", "198.19.0.2");
            string ping = big.StandardOutput + big.StandardError;
            output.WriteLine(ping);
            Assert.Contains($"mtu = {PathIpInFrame.ToString(CultureInfo.InvariantCulture)}", ping, StringComparison.Ordinal);
            CommandResult fits = a.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", (PathIpInFrame - 28).ToString(CultureInfo.InvariantCulture), "-c", "2", "-W", "2", "198.19.0.2");
            Assert.True(fits.ExitCode == 0, $"a ping of exactly the path's size was lost:\n{fits.StandardOutput}\n{na.Process}");

            // The answer came from b's address and MAC: a's neighbour entry for b is untouched.
            string neighbours = a.Exec("ip", "neigh", "show", "198.19.0.2", "dev", "ipop0");
            Assert.Contains("02:00:00:00:13:02", neighbours, StringComparison.OrdinalIgnoreCase);

            using LabProcess server = lab.Start(b, "iperf3", ["-s", "-B", "198.19.0.2"]);
            await Task.Delay(500, TestContext.Current.CancellationToken);
            double forward = Iperf(a, reverse: false, na, nb);
            double reverse = Iperf(a, reverse: true, na, nb);
            Assert.True(forward > 0 && reverse > 0, "TCP stalled in the black hole in switch mode");
        }
        finally
        {
            lab.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }
}
