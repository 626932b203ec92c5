using System.Globalization;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>The same black hole on an IPv6 underlay: the search must find IPv6's minimum MTU, 1,280, with no ICMPv6.</summary>
public sealed partial class PathMtuTests
{
    // IPv6 + UDP + transport header + tag: what a 1,280-byte IPv6 hop leaves for the inner packet.
    private const int PathInnerV6 = SmallHop - 40 - 8 - 32;

    [Fact]
    public async Task Tcp_crosses_an_ipv6_underlay_black_hole_at_the_ipv6_minimum_mtu()
    {
        using var lab = new NetworkLab();
        string dir = Directory.CreateTempSubdirectory("ipop-pmtu6-").FullName;
        try
        {
            (LabNamespace a, LabNamespace r1, LabNamespace r2, LabNamespace b) = BuildUnderlay(lab, SmallHop);
            a.Exec("ip", "-6", "addr", "add", "2001:2:20::1/64", "dev", "eth0", "nodad");
            r1.Exec("ip", "-6", "addr", "add", "2001:2:20::2/64", "dev", "e0", "nodad");
            r1.Exec("ip", "-6", "addr", "add", "2001:2:21::1/64", "dev", "e1", "nodad");
            r2.Exec("ip", "-6", "addr", "add", "2001:2:21::2/64", "dev", "e1", "nodad");
            r2.Exec("ip", "-6", "addr", "add", "2001:2:22::2/64", "dev", "e0", "nodad");
            b.Exec("ip", "-6", "addr", "add", "2001:2:22::1/64", "dev", "eth0", "nodad");
            a.Exec("ip", "-6", "route", "add", "default", "via", "2001:2:20::2");
            b.Exec("ip", "-6", "route", "add", "default", "via", "2001:2:22::2");
            r1.Exec("ip", "-6", "route", "add", "2001:2:22::/64", "via", "2001:2:21::2");
            r2.Exec("ip", "-6", "route", "add", "2001:2:20::/64", "via", "2001:2:21::1");
            foreach (LabNamespace r in new[] { r1, r2 })
            {
                r.Exec("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
            }

            // The black hole is real: a 1,300-byte ICMPv6 echo gets neither an answer nor "packet too big".
            CommandResult probe = a.TryExec(TimeSpan.FromSeconds(10), "ping", "-6", "-n", "-M", "do", "-s", "1300", "-c", "2", "-W", "1", "2001:2:22::1");
            Assert.NotEqual(0, probe.ExitCode);
            Assert.DoesNotContain("too big", probe.StandardOutput, StringComparison.OrdinalIgnoreCase);
            Assert.True(a.TryExec(TimeSpan.FromSeconds(10), "ping", "-6", "-n", "-c", "2", "-W", "2", "2001:2:22::1").ExitCode == 0, "the IPv6 underlay does not route small packets");

            TincanNodeProcess na = TincanNodeProcess.Create(a, dir);
            TincanNodeProcess nb = TincanNodeProcess.Create(b, dir);
            await na.StartAsync(lab, "tun", 51820, ["198.19.0.1/24"], [TincanNodeProcess.Peer("b", nb.PublicKey, "[2001:2:22::1]:51820", "198.19.0.2/32")]);
            await nb.StartAsync(lab, "tun", 51820, ["198.19.0.2/24"], [TincanNodeProcess.Peer("a", na.PublicKey, "[2001:2:20::1]:51820", "198.19.0.1/32")]);
            Assert.True(a.Ping("198.19.0.2", count: 2, deadlineSeconds: 15), $"{na.Process}\n{nb.Process}");

            (Match found, Match foundB) = await PathMtuLinesAsync(na, nb);
            output.WriteLine($"IPv6 underlay, hop MTU {SmallHop}: PLPMTU {found.Groups["underlay"].Value} found in {found.Groups["ms"].Value} ms (b: {foundB.Groups["underlay"].Value})");
            Assert.Equal(SmallHop.ToString(CultureInfo.InvariantCulture), found.Groups["underlay"].Value);
            Assert.Equal(SmallHop.ToString(CultureInfo.InvariantCulture), foundB.Groups["underlay"].Value);

            // TCP both ways through the tunnel (its SYNs clamped to the path), and a too-big ping answered by the TUN.
            using LabProcess server = lab.Start(b, "iperf3", ["-s", "-B", "198.19.0.2"]);
            await Task.Delay(500, TestContext.Current.CancellationToken);
            double forward = Iperf(a, reverse: false, na, nb);
            double reverse = Iperf(a, reverse: true, na, nb);
            Assert.True(forward > 0 && reverse > 0, "TCP stalled in the IPv6 black hole");
            CommandResult big = a.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", "1300", "-c", "2", "-i", "0.5", "-W", "2", "198.19.0.2");
            output.WriteLine(big.StandardOutput + big.StandardError);
            Assert.Contains($"mtu = {PathInnerV6.ToString(CultureInfo.InvariantCulture)}", big.StandardOutput + big.StandardError, StringComparison.Ordinal);
            CommandResult fits = a.TryExec(TimeSpan.FromSeconds(10), "ping", "-4", "-n", "-M", "do", "-s", (PathInnerV6 - 28).ToString(CultureInfo.InvariantCulture), "-c", "2", "-W", "2", "198.19.0.2");
            Assert.True(fits.ExitCode == 0, $"a ping of exactly the path's size was lost:\n{fits.StandardOutput}");
        }
        finally
        {
            lab.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }
}
