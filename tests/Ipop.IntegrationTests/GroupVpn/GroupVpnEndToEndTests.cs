using System.Diagnostics;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Testing.Lab;

namespace Ipop.IntegrationTests.GroupVpn;

/// <summary>
/// Issue 6 end to end: <c>groupvpn</c> processes on hosts behind different NATs, a real prosody for the group
/// (a MUC room) and a real coturn; unmodified ping and iperf3 over the group's flat subnet.
/// </summary>
public sealed class GroupVpnEndToEndTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private const string Subnet = "198.19.0.0/24";
    private readonly List<ProductNode> _nodes = [];
    private static readonly string[] Everyone = ["198.19.0.1", "198.19.0.2", "198.19.0.3"];

    private string Group => $"g{Environment.ProcessId}x{_nodes.Count}@{lab.Xmpp.MucDomain}";

    public void Dispose()
    {
        foreach (ProductNode n in _nodes)
        {
            n.Dispose();
        }
    }

    private async Task<ProductNode> NodeAsync(string user, string where, string group, string address, string mode = "tun", string? bridge = null, string? iface = null, string? metrics = null)
    {
        await lab.RegisterAsync(user);
        LabNamespace ns = lab.Host(user, where);
        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(lab.Lab, ns, "groupvpn", dir, new
        {
            Xmpp = lab.XmppSection(user),
            Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "node.key")),
            GroupVpn = new { Group = group, Subnet = bridge is null ? Subnet : "198.19.1.0/24", Address = address, Mode = mode, BridgeName = bridge, InterfaceName = iface ?? "ipop0", LinkRetryMaxSeconds = 5 },
            Status = new { SocketPath = Path.Combine(dir, "status.sock") },
            Metrics = new { PrometheusListen = metrics },
        });
        _nodes.Add(node);
        return node;
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
        }

        return false;
    }

    // The first sample of a metric family ("name{labels} value" or "name value"), summed over label sets.
    private static double PrometheusValue(string text, string name)
    {
        double sum = 0;
        bool found = false;
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, $@"(?m)^{name}(?:_total)?(?:\{{[^}}]*\}})?\s+([0-9.eE+-]+)"))
        {
            sum += double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            found = true;
        }

        Assert.True(found, $"no {name} in:\n{text}");
        return sum;
    }

    private string Diagnose() => string.Join("\n----\n", _nodes.Select(n => n.Status() + "\n" + n.Process?.Output));

    [Fact]
    public async Task Three_members_behind_different_nats_reach_each_other_and_a_leaver_comes_back_without_restarts()
    {
        string group = Group;
        ProductNode pub = await NodeAsync("gpub", "public", group, "198.19.0.1", metrics: "127.0.0.1:9464");
        ProductNode cone = await NodeAsync("gcone", "cone", group, "198.19.0.2");
        ProductNode sym = await NodeAsync("gsym", "sym", group, "198.19.0.3");
        ProductNode[] all = [pub, cone, sym];
        var clock = Stopwatch.StartNew();
        foreach (ProductNode n in all)
        {
            await n.StartAsync("GroupVPN");
        }

        // All-to-all ping matrix.
        for (int i = 0; i < all.Length; i++)
        {
            for (int j = 0; j < all.Length; j++)
            {
                if (i != j)
                {
                    Assert.True(await EventuallyPingsAsync(all[i].Namespace, Everyone[j], TimeSpan.FromSeconds(30)), $"{all[i].Namespace.Role} cannot reach {Everyone[j]}\n{Diagnose()}");
                }
            }
        }

        output.WriteLine($"full mesh of 3 pinging after {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(pub.Status());

        // The Ipop.Tincan meter as a Prometheus scrape inside pub's namespace: two links, handshakes done, bytes moved.
        CommandResult scrape = pub.Namespace.TryExec(TimeSpan.FromSeconds(20), "python3", "-c", "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=10).read().decode())");
        Assert.True(scrape.ExitCode == 0, scrape.StandardError);
        Assert.Equal(2, PrometheusValue(scrape.StandardOutput, "ipop_tincan_links"));
        Assert.True(PrometheusValue(scrape.StandardOutput, "ipop_tincan_handshakes") >= 2, scrape.StandardOutput);
        Assert.Contains("ipop_tincan_bytes", scrape.StandardOutput, StringComparison.Ordinal);

        // The symmetric node leaves: the others drop its link.
        Assert.True(sym.Stop(), "groupvpn did not exit on SIGTERM");
        Assert.True(await pub.Process!.WaitForOutputAsync("gsym", TimeSpan.FromSeconds(1)));
        Assert.True(await pub.Process.WaitForOutputAsync("link removed", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.False(pub.Namespace.Ping("198.19.0.3", count: 1, deadlineSeconds: 2));

        // It comes back: links return without restarting the others.
        await sym.StartAsync("GroupVPN");
        Assert.True(await EventuallyPingsAsync(pub.Namespace, "198.19.0.3", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.True(await EventuallyPingsAsync(sym.Namespace, "198.19.0.2", TimeSpan.FromSeconds(30)), Diagnose());
    }

    [Fact]
    public async Task A_valid_account_outside_the_group_gets_no_packet_through()
    {
        string group = Group;
        ProductNode a = await NodeAsync("gmem1", "public", group, "198.19.0.1");
        ProductNode b = await NodeAsync("gmem2", "public", group, "198.19.0.2");
        // Same server, same subnet, a valid account, but another group: it must never get a link to the members.
        ProductNode outsider = await NodeAsync("gout", "public", $"other{Environment.ProcessId}@{lab.Xmpp.MucDomain}", "198.19.0.3");
        await a.StartAsync("GroupVPN");
        await b.StartAsync("GroupVPN");
        await outsider.StartAsync("GroupVPN");
        Assert.True(await EventuallyPingsAsync(a.Namespace, "198.19.0.2", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.False(outsider.Namespace.Ping("198.19.0.1", count: 3, deadlineSeconds: 4), Diagnose());
        Assert.False(outsider.Namespace.Ping("198.19.0.2", count: 2, deadlineSeconds: 3), Diagnose());
        Assert.DoesNotContain("gout", a.Status(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Switch_mode_puts_containers_on_two_nodes_into_one_ethernet_segment()
    {
        string group = Group;
        ProductNode a = await NodeAsync("gsw1", "public", group, "198.19.1.1", mode: "tap", bridge: "br0", iface: "ipoptap0");
        ProductNode b = await NodeAsync("gsw2", "cone", group, "198.19.1.2", mode: "tap", bridge: "br0", iface: "ipoptap0");
        LabNamespace c1 = Container(a.Namespace, "ctr1", "198.19.1.10/24");
        LabNamespace c2 = Container(b.Namespace, "ctr2", "198.19.1.20/24");
        await a.StartAsync("GroupVPN");
        await b.StartAsync("GroupVPN");

        Assert.True(await EventuallyPingsAsync(c1, "198.19.1.20", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.Contains("lladdr", c1.Exec("ip", "neigh", "show", "198.19.1.20"), StringComparison.Ordinal); // ARP across the overlay
        using LabProcess server = lab.Lab.Start(c2, "iperf3", ["-s", "-1", "-B", "198.19.1.20"]);
        await Task.Delay(500, TestContext.Current.CancellationToken);
        CommandResult iperf = c1.TryExec(TimeSpan.FromSeconds(30), "iperf3", "-c", "198.19.1.20", "-t", "3", "-J");
        Assert.True(iperf.ExitCode == 0, iperf.StandardOutput + iperf.StandardError + Diagnose());
        using var json = System.Text.Json.JsonDocument.Parse(iperf.StandardOutput);
        double bits = json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
        output.WriteLine($"iperf3 container to container through switch mode: {bits / 1e6:F0} Mbit/s");
        Assert.True(bits > 1_000_000, $"iperf3 moved only {bits / 1e6:F2} Mbit/s\n{Diagnose()}");
    }

    private LabNamespace Container(LabNamespace node, string role, string address)
    {
        node.Exec("ip", "link", "add", "br0", "type", "bridge");
        node.Exec("ip", "link", "set", "br0", "up");
        LabNamespace container = lab.Lab.AddNamespace(role);
        Cmd.Run("ip", "link", "add", "eth0", "netns", container.Name, "type", "veth", "peer", "name", "v" + role, "netns", node.Name);
        node.Exec("ip", "link", "set", "v" + role, "master", "br0", "up");
        // Containers behind the overlay need an MTU that fits it (TESTING: a too-large MTU black-holes full frames).
        container.Exec("ip", "link", "set", "eth0", "mtu", "1400");
        container.Exec("ip", "addr", "add", address, "dev", "eth0");
        container.Exec("ip", "link", "set", "eth0", "up");
        return container;
    }

    [Fact]
    public async Task A_bad_config_stops_the_host_with_a_message_naming_the_key()
    {
        ProductNode bad = await NodeAsync("gbad", "public", Group, "198.19.0.9", mode: "bridge");
        var p = lab.Lab.Start(bad.Namespace, "dotnet", [Artifacts.GroupVpnHost, "run", "--config", bad.ConfigPath]);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), p.Output);
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("GroupVpn:Mode must be 'tun' or 'tap', got 'bridge'", p.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", p.Output, StringComparison.Ordinal);

        ProductNode badMetrics = await NodeAsync("gbad2", "public", Group, "198.19.0.9", metrics: "localhost:http");
        p = lab.Lab.Start(badMetrics.Namespace, "dotnet", [Artifacts.GroupVpnHost, "run", "--config", badMetrics.ConfigPath]);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), p.Output);
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("Metrics:PrometheusListen must be an address and port such as 127.0.0.1:9464, got 'localhost:http'", p.Output, StringComparison.Ordinal);
    }
}
