using System.Diagnostics;
using System.Text.Json.Nodes;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Nat;

/// <summary>
/// Issue 4 in the namespace lab: two <c>ipop-tincan</c> processes behind real iptables NATs, with real coturn,
/// are linked by a controller through their APIs (descriptors passed directly); the link must form, ping must
/// work both ways, and the path kind must be the expected one. The time from both descriptors known to the
/// first ping reply is written to the test output.
/// </summary>
public sealed class NatTraversalTests(NatLabFixture lab, ITestOutputHelper output) : IClassFixture<NatLabFixture>, IAsyncDisposable
{
    private readonly List<ApiNode> _nodes = [];

    /// <summary>Every node a test started is stopped, also when the test failed, so the next test starts clean.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (ApiNode n in _nodes)
        {
            await n.DisposeAsync();
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ApiNode A, ApiNode B, TimeSpan Elapsed)> LinkAsync(LabNamespace a, LabNamespace b, object[] turnA, object[] turnB)
    {
        string dir = Path.Combine(lab.Directory, Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        ApiNode nodeA = await ApiNode.StartAsync(lab.Lab, a, dir, NatLabFixture.Stun, turnA, Ct);
        _nodes.Add(nodeA);
        ApiNode nodeB = await ApiNode.StartAsync(lab.Lab, b, dir, NatLabFixture.Stun, turnB, Ct);
        _nodes.Add(nodeB);
        await nodeA.CreateInterfaceAsync("198.19.0.1/24", Ct);
        await nodeB.CreateInterfaceAsync("198.19.0.2/24", Ct);
        JsonNode descriptorA = await nodeA.DescriptorAsync(Ct);
        JsonNode descriptorB = await nodeB.DescriptorAsync(Ct);
        output.WriteLine($"{a.Role}: {descriptorA.ToJsonString()}");
        output.WriteLine($"{b.Role}: {descriptorB.ToJsonString()}");

        var clock = Stopwatch.StartNew();
        await nodeA.LinkAsync(nodeB, descriptorB, "198.19.0.2/32", Ct);
        await nodeB.LinkAsync(nodeA, descriptorA, "198.19.0.1/32", Ct);
        bool replied = false;
        while (!replied && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            replied = a.Ping("198.19.0.2", count: 1, intervalSeconds: 0.2, deadlineSeconds: 1);
        }

        TimeSpan elapsed = clock.Elapsed;
        Assert.True(replied, $"no ping reply within 20 s\n{await StatusAsync(nodeA, nodeB)}\n{nodeA.Process.Output}\n{nodeB.Process.Output}");
        output.WriteLine($"{a.Role} <-> {b.Role}: first ping reply {elapsed.TotalMilliseconds:F0} ms after both descriptors were known");
        if (Environment.GetEnvironmentVariable("IPOP_LAB_LOG_LEVEL") is { Length: > 0 })
        {
            foreach (ApiNode n in new[] { nodeA, nodeB })
            {
                output.WriteLine(string.Join('\n', n.Process.Output.Split('\n').Where(l => l.Contains("Ipop.Tincan[", StringComparison.Ordinal)).Select(l => $"{n.Id}: {l}")));
            }
        }

        return (nodeA, nodeB, elapsed);
    }

    private static async Task<string> StatusAsync(ApiNode a, ApiNode b) =>
        $"{a.Id}: {(await a.LinkStatusAsync(b.Id, Ct)).ToJsonString()}\n{b.Id}: {(await b.LinkStatusAsync(a.Id, Ct)).ToJsonString()}";

    private async Task AssertPathAsync(ApiNode a, ApiNode b, params string[] expected)
    {
        foreach ((ApiNode self, ApiNode peer) in new[] { (a, b), (b, a) })
        {
            JsonNode link = await self.LinkStatusAsync(peer.Id, Ct);
            output.WriteLine($"{self.Id} -> {peer.Id}: {link["state"]} {link["path"]} local {link["stats"]!["local_candidate"]?.ToJsonString()} remote {link["stats"]!["remote_candidate"]?.ToJsonString()}");
            Assert.Equal("connected", link["state"]!.GetValue<string>());
            Assert.Contains(link["path"]!.GetValue<string>(), expected);
        }
    }

    private async Task PingBothWaysAsync(ApiNode a, ApiNode b)
    {
        Assert.True(a.Namespace.Ping("198.19.0.2", count: 3, deadlineSeconds: 5), await StatusAsync(a, b));
        Assert.True(b.Namespace.Ping("198.19.0.1", count: 3, deadlineSeconds: 5), await StatusAsync(a, b));
    }

    [Fact]
    public async Task Same_lan_without_nat_uses_a_direct_host_pair()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Cone1Neighbour, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "direct_host");
    }

    [Fact]
    public async Task Cone_nat_to_cone_nat_links_and_carries_traffic()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Cone2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "direct_server_reflexive", "direct_peer_reflexive", "relayed");
    }

    // Hole punching proper: both lab NATs drop unsolicited WAN input like home routers, so the first punch packet
    // that beats the other side's mapping leaves no conntrack entry to collide with it, and the srflx pair opens
    // (docs/testing.md, "The lab"; docs/status.md).
    [Fact]
    public async Task Cone_nat_to_cone_nat_punches_a_hole_and_goes_direct()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Cone2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "direct_server_reflexive", "direct_peer_reflexive");
    }

    [Fact]
    public async Task Cone_nat_to_public_node_goes_direct()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Public, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "direct_host", "direct_server_reflexive", "direct_peer_reflexive");
    }

    [Fact]
    public async Task Symmetric_nat_to_symmetric_nat_is_relayed_through_turn()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Symmetric1, lab.Symmetric2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "relayed");
    }

    [Fact]
    public async Task Symmetric_nat_to_cone_nat_works_one_way_or_another()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Symmetric1, lab.Cone2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "relayed", "direct_server_reflexive", "direct_peer_reflexive");
    }

    [Fact]
    public async Task When_the_first_turn_server_is_down_the_second_one_is_used()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Symmetric1, lab.Symmetric2, NatLabFixture.TurnListFirstDown, NatLabFixture.TurnListFirstDown);
        await PingBothWaysAsync(a, b);
        await AssertPathAsync(a, b, "relayed");
        Assert.Contains("198.18.0.3:3478", (await a.LinkStatusAsync(b.Id, Ct)).ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Traffic_resumes_by_itself_after_the_nat_forgets_its_mappings()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Cone2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        using LabProcess server = lab.Lab.Start(b.Namespace, "iperf3", ["-s", "-1", "-B", "198.19.0.2"]);
        await Task.Delay(500, Ct);
        using LabProcess client = lab.Lab.Start(a.Namespace, "iperf3", ["-c", "198.19.0.2", "-t", "8"]);
        await Task.Delay(2500, Ct);

        lab.Cone1Router.Exec("conntrack", "-F"); // NAT rebinding: every mapping of cone1's NAT is gone
        var clock = Stopwatch.StartNew();
        bool back = false;
        while (!back && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            back = a.Namespace.Ping("198.19.0.2", count: 1, intervalSeconds: 0.2, deadlineSeconds: 1);
        }

        output.WriteLine($"traffic back {clock.Elapsed.TotalMilliseconds:F0} ms after conntrack -F");
        Assert.True(back && clock.Elapsed < TimeSpan.FromSeconds(5), $"traffic did not resume within 5 s ({clock.Elapsed})\n{await StatusAsync(a, b)}");
        Assert.True(client.WaitForExit(TimeSpan.FromSeconds(20)), client.Output);
        Assert.Equal(0, client.ExitCode);
    }

    [Fact]
    public async Task A_relayed_link_moves_to_direct_when_the_firewall_opens_and_a_running_ping_and_tcp_flow_barely_notice()
    {
        // A firewall on cone1's NAT blocks everything between the two NATs' public addresses; TURN stays reachable.
        using var firewall = new DirectPathFirewall(lab.Cone1Router, "198.18.0.12");
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Cone2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await AssertPathAsync(a, b, "relayed");

        using LabProcess ping = lab.Lab.Start(a.Namespace, "ping", ["-n", "-i", "0.1", "-c", "200", "-w", "40", "198.19.0.2"]);

        // A TCP flow runs across the move too and must not break.
        using LabProcess server = lab.Lab.Start(b.Namespace, "iperf3", ["-s", "-1", "-B", "198.19.0.2"]);
        await Task.Delay(500, Ct);
        using LabProcess tcp = lab.Lab.Start(a.Namespace, "iperf3", ["-c", "198.19.0.2", "-t", "8", "-b", "20M"]);
        await Task.Delay(1500, Ct);
        firewall.Open();
        var clock = Stopwatch.StartNew();
        TimeSpan? direct = await WaitForPathAsync(a, b, p => p != "relayed", TimeSpan.FromSeconds(30));
        output.WriteLine($"direct {direct?.TotalMilliseconds:F0} ms after the firewall opened");
        Assert.True(direct is not null, $"still relayed 30 s after the firewall opened\n{await StatusAsync(a, b)}");
        await AssertPathAsync(a, b, "direct_server_reflexive", "direct_peer_reflexive");

        Assert.True(tcp.WaitForExit(TimeSpan.FromSeconds(30)), tcp.Output);
        Assert.True(tcp.ExitCode == 0, "the TCP flow broke across the move to direct:\n" + tcp.Output);
        Assert.True(ping.WaitForExit(TimeSpan.FromSeconds(45)), ping.Output);
        (int sent, int received) = PingCounts(ping.Output);
        output.WriteLine($"ping across the upgrade: {received}/{sent} replies");
        Assert.True(sent >= 150 && sent - received <= 5, $"lost {sent - received} of {sent} pings across the upgrade\n{ping.Output}");
    }

    [Fact]
    public async Task A_direct_link_whose_path_breaks_falls_back_to_the_relay_by_itself()
    {
        (ApiNode a, ApiNode b, _) = await LinkAsync(lab.Cone1, lab.Cone2, NatLabFixture.TurnList, NatLabFixture.TurnList);
        await AssertPathAsync(a, b, "direct_server_reflexive", "direct_peer_reflexive");

        using var firewall = new DirectPathFirewall(lab.Cone1Router, "198.18.0.12");
        var clock = Stopwatch.StartNew();
        bool back = false;
        while (!back && clock.Elapsed < TimeSpan.FromSeconds(40))
        {
            back = a.Namespace.Ping("198.19.0.2", count: 1, intervalSeconds: 0.2, deadlineSeconds: 1);
        }

        output.WriteLine($"traffic back over the relay {clock.Elapsed.TotalMilliseconds:F0} ms after the direct path broke");
        foreach (ApiNode n in new[] { a, b })
        {
            output.WriteLine(string.Join('\n', n.Process.Output.Split('\n').Where(l => l.Contains("Link to", StringComparison.Ordinal)).Select(l => $"{n.Id}: {l}")));
        }

        Assert.True(back, $"no traffic 40 s after the direct path broke\n{await StatusAsync(a, b)}");
        await AssertPathAsync(a, b, "relayed");
        await PingBothWaysAsync(a, b);
    }

    private static async Task<TimeSpan?> WaitForPathAsync(ApiNode a, ApiNode b, Func<string, bool> wanted, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            string pathA = (await a.LinkStatusAsync(b.Id, Ct))["path"]?.GetValue<string>() ?? string.Empty;
            string pathB = (await b.LinkStatusAsync(a.Id, Ct))["path"]?.GetValue<string>() ?? string.Empty;
            if (wanted(pathA) && wanted(pathB))
            {
                return clock.Elapsed;
            }

            await Task.Delay(100, Ct);
        }

        return null;
    }

    // "200 packets transmitted, 197 received, ..." from iputils ping.
    private static (int Sent, int Received) PingCounts(string text)
    {
        System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(text, @"(\d+) packets transmitted, (\d+) (?:packets )?received");
        Assert.True(m.Success, "no ping summary in:\n" + text);
        return (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Drops forwarding between a NAT box's LAN and one internet address until opened or disposed.</summary>
    private sealed class DirectPathFirewall : IDisposable
    {
        private readonly LabNamespace _router;
        private readonly string _address;
        private bool _closed;

        public DirectPathFirewall(LabNamespace router, string address)
        {
            _router = router;
            _address = address;
            _router.Exec("iptables", "-I", "FORWARD", "-d", address, "-j", "DROP");
            _router.Exec("iptables", "-I", "FORWARD", "-s", address, "-j", "DROP");
            _closed = true;
        }

        public void Open()
        {
            if (_closed)
            {
                _closed = false;
                _router.Exec("iptables", "-D", "FORWARD", "-d", _address, "-j", "DROP");
                _router.Exec("iptables", "-D", "FORWARD", "-s", _address, "-j", "DROP");
            }
        }

        public void Dispose() => Open();
    }
}
