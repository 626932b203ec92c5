using System.Diagnostics;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.GroupVpn;

/// <summary>
/// Issue 6 end to end: <c>groupvpn</c> processes on hosts behind different NATs, a real prosody for the group
/// (a members-only MUC room whose member list the owner keeps with <c>groupvpn members</c>) and a real coturn;
/// unmodified ping and iperf3 over the group's flat subnet.
/// </summary>
public sealed class GroupVpnEndToEndTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private const string Subnet = "198.19.0.0/24";
    private readonly List<ProductNode> _nodes = [];
    private readonly Dictionary<ProductNode, string> _users = [];
    private static readonly string[] Everyone = ["198.19.0.1", "198.19.0.2", "198.19.0.3"];

    private static int s_groups;

    // A room of its own per test: rooms are persistent and owned by the test's first node.
    private string Group => $"g{Environment.ProcessId}x{Interlocked.Increment(ref s_groups)}@{lab.Xmpp.MucDomain}";

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
        _users[node] = $"{user}@{lab.Xmpp.Domain}";
        return node;
    }

    /// <summary>The owner (the first node's account) adds the others to the group; the first add creates the room.</summary>
    private void MakeGroup(ProductNode owner, params ProductNode[] members)
    {
        CommandResult r = owner.Members(["add", .. members.Select(m => _users[m])]);
        Assert.True(r.ExitCode == 0, $"members add exited {r.ExitCode}: {r.StandardOutput}{r.StandardError}");
        output.WriteLine(r.StandardOutput.Trim());
    }

    /// <summary>When a node's log says its link to <paramref name="user"/> went (the log's HH:mm:ss.fff stamp, local time), or null.</summary>
    private static TimeOnly? LinkRemovedAt(ProductNode node, string user)
    {
        string? line = node.Process!.Output.Split('\n').FirstOrDefault(l => l.Contains($"peer {user}/", StringComparison.Ordinal) && l.Contains("link removed", StringComparison.Ordinal));
        return line is not null && TimeOnly.TryParseExact(line.Split(' ')[0], "HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out TimeOnly at) ? at : null;
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
        MakeGroup(pub, cone, sym);
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
    public async Task A_valid_account_that_is_not_on_the_member_list_can_neither_join_nor_get_a_link()
    {
        string group = Group;
        ProductNode a = await NodeAsync("gmem1", "public", group, "198.19.0.1");
        ProductNode b = await NodeAsync("gmem2", "public", group, "198.19.0.2");
        // Same server, same group name, same subnet, a valid account: but the owner never added it.
        ProductNode outsider = await NodeAsync("gout", "public", group, "198.19.0.3");
        MakeGroup(a, b);
        await a.StartAsync("GroupVPN");
        await b.StartAsync("GroupVPN");
        await outsider.StartAsync("GroupVPN");
        Assert.True(await EventuallyPingsAsync(a.Namespace, "198.19.0.2", TimeSpan.FromSeconds(30)), Diagnose());

        // The room refuses it; it says so, keeps asking, and does not exit.
        Assert.True(await outsider.Process!.WaitForOutputAsync($"Not a member of {group} yet", TimeSpan.FromSeconds(10)), Diagnose());
        Assert.False(outsider.Namespace.Ping("198.19.0.1", count: 3, deadlineSeconds: 4), Diagnose());
        Assert.False(outsider.Namespace.Ping("198.19.0.2", count: 2, deadlineSeconds: 3), Diagnose());
        Assert.False(outsider.Process.HasExited, Diagnose());
        Assert.DoesNotContain("gout", a.Status(), StringComparison.Ordinal);
        Assert.DoesNotContain("gout", b.Status(), StringComparison.Ordinal);

        // Listing shows the owner and the one member; the outsider cannot add itself.
        CommandResult list = a.Members("list");
        Assert.True(list.ExitCode == 0, list.StandardError);
        Assert.Contains("gmem1@lab.test owner", list.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("gmem2@lab.test member", list.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("gout", list.StandardOutput, StringComparison.Ordinal);
        CommandResult self = outsider.Members("add", "gout@lab.test");
        Assert.Equal(3, self.ExitCode);
        Assert.Contains("only its owner or an admin manages the members", self.StandardError, StringComparison.Ordinal);
        Assert.Single(self.StandardError.Trim().Split('\n'));
    }

    [Fact]
    public async Task Removing_a_member_with_the_cli_cuts_its_links_within_a_second()
    {
        string group = Group;
        ProductNode owner = await NodeAsync("grm0", "public", group, "198.19.0.1");
        ProductNode stays = await NodeAsync("grm1", "public", group, "198.19.0.2");
        ProductNode leaves = await NodeAsync("grm2", "cone", group, "198.19.0.3");
        MakeGroup(owner, stays, leaves);
        foreach (ProductNode n in (ProductNode[])[owner, stays, leaves])
        {
            await n.StartAsync("GroupVPN");
        }

        Assert.True(await EventuallyPingsAsync(owner.Namespace, "198.19.0.3", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.True(await EventuallyPingsAsync(stays.Namespace, "198.19.0.3", TimeSpan.FromSeconds(30)), Diagnose());

        TimeOnly before = TimeOnly.FromDateTime(DateTime.Now);
        CommandResult removed = owner.Members("remove", _users[leaves]);
        TimeOnly acknowledged = TimeOnly.FromDateTime(DateTime.Now);
        Assert.True(removed.ExitCode == 0, removed.StandardError);
        Assert.Contains($"removed {_users[leaves]} from {group}", removed.StandardOutput, StringComparison.Ordinal);

        // Both remaining members cut the link at once: measured from the CLI's acknowledgement (the server answers the
        // affiliation change after it has removed the member), each node's "link removed" log line.
        foreach (ProductNode n in (ProductNode[])[owner, stays])
        {
            Assert.True(await n.Process!.WaitForOutputAsync($"peer {_users[leaves]}/", TimeSpan.FromSeconds(5)), Diagnose());
            await SignalingWaitAsync(() => LinkRemovedAt(n, _users[leaves]) is not null);
            TimeOnly cut = LinkRemovedAt(n, _users[leaves])!.Value;
            double afterAck = (cut - acknowledged).TotalMilliseconds;
            afterAck = afterAck > 12 * 3600 * 1000 ? afterAck - (24 * 3600 * 1000) : afterAck; // cut before the acknowledgement
            output.WriteLine($"{n.Namespace.Role}: link to the removed member cut {afterAck:F0} ms after the CLI's acknowledgement ({(cut - before).TotalMilliseconds:F0} ms after starting the CLI)");
            Assert.True(afterAck < 1000, $"{n.Namespace.Role} cut the link {afterAck:F0} ms after the removal\n{Diagnose()}");
        }

        Assert.False(owner.Namespace.Ping("198.19.0.3", count: 2, deadlineSeconds: 3), Diagnose());
        Assert.False(leaves.Namespace.Ping("198.19.0.2", count: 2, deadlineSeconds: 3), Diagnose());
        Assert.True(await leaves.Process!.WaitForOutputAsync("our membership was revoked (321)", TimeSpan.FromSeconds(5)), Diagnose());
        Assert.False(leaves.Process.HasExited);
        Assert.True(owner.Namespace.Ping("198.19.0.2", count: 1, deadlineSeconds: 3), Diagnose()); // the rest of the group is untouched
    }

    [Fact]
    public async Task An_open_room_from_before_is_made_members_only_on_its_owner_first_start()
    {
        string group = Group;
        ProductNode owner = await NodeAsync("gop0", "public", group, "198.19.0.1");
        ProductNode member = await NodeAsync("gop1", "public", group, "198.19.0.2");
        ProductNode stranger = await NodeAsync("gop2", "public", group, "198.19.0.3");
        lab.Xmpp.WriteOpenRoom(group, _users[owner]); // as GroupVPN created rooms before groups were members-only

        // In the open room the stranger gets in, but with no membership it is nobody's group member.
        await stranger.StartAsync("GroupVPN");
        Assert.True(await stranger.Process!.WaitForOutputAsync($"In room {group}, but {_users[stranger]} is not on its member list", TimeSpan.FromSeconds(20)), Diagnose());

        await owner.StartAsync("GroupVPN");
        Assert.True(await owner.Process!.WaitForOutputAsync($"Converted room {group}", TimeSpan.FromSeconds(20)), Diagnose());
        Assert.Contains(_users[stranger], owner.Process.Output, StringComparison.Ordinal); // named as refused / losing access
        Assert.Contains("Refused ", owner.Process.Output, StringComparison.Ordinal);
        Assert.True(await stranger.Process.WaitForOutputAsync("we are not on its member list (322)", TimeSpan.FromSeconds(10)), Diagnose());

        MakeGroup(owner, member);
        await member.StartAsync("GroupVPN");
        Assert.True(await EventuallyPingsAsync(member.Namespace, "198.19.0.1", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.False(stranger.Namespace.Ping("198.19.0.1", count: 2, deadlineSeconds: 3), Diagnose());
        Assert.DoesNotContain("gop2", owner.Status(), StringComparison.Ordinal);
        Assert.DoesNotContain("converted", member.Process!.Output, StringComparison.OrdinalIgnoreCase); // only the owner converts
    }

    [Fact]
    public async Task Members_started_at_once_before_the_room_exists_keep_running_and_converge_once_the_owner_adds_them()
    {
        // The issue's race: hosts started together on a new room used to fight over creating it, and the losers
        // exited with item-not-found. Now no host creates the room; all wait, and the owner's first add creates it.
        string group = Group;
        ProductNode[] nodes = new ProductNode[4];
        for (int i = 0; i < nodes.Length; i++)
        {
            nodes[i] = await NodeAsync($"grace{i}", i % 2 == 0 ? "public" : "cone", group, $"198.19.0.{i + 1}");
        }

        await Task.WhenAll(nodes.Select(n => n.StartAsync("GroupVPN")));
        foreach (ProductNode n in nodes)
        {
            Assert.True(await n.Process!.WaitForOutputAsync($"Room {group} does not exist yet", TimeSpan.FromSeconds(20)), Diagnose());
        }

        MakeGroup(nodes[0], nodes[1..]);
        for (int i = 1; i < nodes.Length; i++)
        {
            Assert.True(await EventuallyPingsAsync(nodes[0].Namespace, $"198.19.0.{i + 1}", TimeSpan.FromSeconds(45)), Diagnose());
        }

        Assert.True(await EventuallyPingsAsync(nodes[1].Namespace, "198.19.0.4", TimeSpan.FromSeconds(30)), Diagnose());
        Assert.All(nodes, n => Assert.False(n.Process!.HasExited, n.Process.Output));
        CommandResult list = nodes[0].Members("list");
        Assert.Single(list.StandardOutput.Split('\n'), l => l.EndsWith(" owner", StringComparison.Ordinal));
        Assert.Contains($"{_users[nodes[0]]} owner", list.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(nodes, n => n.Process!.Output.Contains("created room", StringComparison.OrdinalIgnoreCase) || n.Process.Output.Contains("Our join created", StringComparison.Ordinal));
    }

    private static async Task SignalingWaitAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Switch_mode_puts_containers_on_two_nodes_into_one_ethernet_segment()
    {
        string group = Group;
        ProductNode a = await NodeAsync("gsw1", "public", group, "198.19.1.1", mode: "tap", bridge: "br0", iface: "ipoptap0");
        ProductNode b = await NodeAsync("gsw2", "cone", group, "198.19.1.2", mode: "tap", bridge: "br0", iface: "ipoptap0");
        MakeGroup(a, b);
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
        var p = lab.Lab.Start(bad.Namespace, Artifacts.GroupVpnHost.FileName, Artifacts.GroupVpnHost.Args("run", "--config", bad.ConfigPath));
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), p.Output);
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("GroupVpn:Mode must be 'tun' or 'tap', got 'bridge'", p.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", p.Output, StringComparison.Ordinal);

        ProductNode badMetrics = await NodeAsync("gbad2", "public", Group, "198.19.0.9", metrics: "localhost:http");
        p = lab.Lab.Start(badMetrics.Namespace, Artifacts.GroupVpnHost.FileName, Artifacts.GroupVpnHost.Args("run", "--config", badMetrics.ConfigPath));
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), p.Output);
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("Metrics:PrometheusListen must be an address and port such as 127.0.0.1:9464, got 'localhost:http'", p.Output, StringComparison.Ordinal);
    }
}
