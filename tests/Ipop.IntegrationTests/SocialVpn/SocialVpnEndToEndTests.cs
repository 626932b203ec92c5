using System.Diagnostics;
using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Samples.Hosting;
using Ipop.Lab.Namespaces;
using Ipop.Xmpp;

namespace Ipop.IntegrationTests.SocialVpn;

/// <summary>
/// Issue 7 end to end: <c>socialvpn</c> processes, real prosody rosters, one node behind a NAT. Alice and Bob are
/// friends, Bob and Carol are friends, Alice and Carol are not.
/// </summary>
public sealed class SocialVpnEndToEndTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly List<ProductNode> _nodes = [];
    private readonly string _tag = $"{Environment.ProcessId % 10000}{Random.Shared.Next(100, 999)}";

    public void Dispose()
    {
        foreach (ProductNode n in _nodes)
        {
            n.Dispose();
        }
    }

    private string User(string name) => name + _tag;

    private string Jid(string name) => $"{User(name)}@{lab.Xmpp.Domain}";

    private async Task<ProductNode> NodeAsync(string name, string where, string? pool = null, Action<LabNamespace>? prepare = null)
    {
        string user = User(name);
        await lab.RegisterAsync(user);
        LabNamespace ns = lab.Host(user, where);
        prepare?.Invoke(ns);
        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);
        object xmpp = lab.XmppSection(user);
        var node = new ProductNode(lab.Lab, ns, "socialvpn", dir, new
        {
            Xmpp = xmpp,
            Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "node.key")),
            SocialVpn = new { Pool = pool ?? string.Empty, AddressBookPath = Path.Combine(dir, "book.json"), LinkRetryMaxSeconds = 5 },
            Status = new { SocketPath = Path.Combine(dir, "status.sock") },
        });
        _nodes.Add(node);
        return node;
    }

    private void Befriend(string a, string b)
    {
        // Rosters written before the users log in: a mutual subscription is a friendship.
        lab.Xmpp.WriteRoster(User(a), Roster(a).Append((Jid(b), "both")));
        lab.Xmpp.WriteRoster(User(b), Roster(b).Append((Jid(a), "both")));
        _friends.Add((a, b));
    }

    private readonly List<(string A, string B)> _friends = [];

    private IEnumerable<(string Jid, string Subscription)> Roster(string user) =>
        _friends.Where(f => f.A == user || f.B == user).Select(f => (Jid(f.A == user ? f.B : f.A), "both"));

    private static async Task<StatusReport> StatusAsync(ProductNode node) =>
        await StatusSocketServer.QueryAsync(JsonDocument.Parse(File.ReadAllText(node.ConfigPath)).RootElement.GetProperty("Status").GetProperty("SocketPath").GetString()!, Ct);

    /// <summary>
    /// The address <paramref name="friend"/>'s user has in <paramref name="node"/>'s view, once the friend is online
    /// (linked, or idle: links are on demand, the first packet makes one).
    /// </summary>
    private async Task<string> AddressOfAsync(ProductNode node, string friend, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            PeerStatusRow? row = (await StatusAsync(node)).Peers.FirstOrDefault(p => p.User == Jid(friend));
            if (row is not null && row.State is "Connected" or "Idle")
            {
                return row.Addresses[0];
            }

            await Task.Delay(300, Ct);
        }

        throw new TimeoutException($"{friend} never connected in {node.Namespace.Role}'s view:\n{JsonSerializer.Serialize(await StatusAsync(node))}\n{node.Process?.Output}");
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

    [Fact]
    public async Task Friends_reach_each_other_through_translated_views_and_friends_of_friends_never_do()
    {
        Befriend("alice", "bob");
        Befriend("bob", "carol");
        ProductNode alice = await NodeAsync("alice", "public");
        ProductNode bob = await NodeAsync("bob", "public");
        ProductNode carol = await NodeAsync("carol", "cone");
        foreach (ProductNode n in new[] { alice, bob, carol })
        {
            await n.StartAsync("SocialVPN node");
        }

        string bobForAlice = await AddressOfAsync(alice, "bob", TimeSpan.FromSeconds(40));
        string aliceForBob = await AddressOfAsync(bob, "alice", TimeSpan.FromSeconds(40));
        string carolForBob = await AddressOfAsync(bob, "carol", TimeSpan.FromSeconds(40));
        string bobForCarol = await AddressOfAsync(carol, "bob", TimeSpan.FromSeconds(40));
        StatusReport aliceView = await StatusAsync(alice);
        StatusReport bobView = await StatusAsync(bob);
        output.WriteLine($"alice's view {aliceView.Product}: self {aliceView.Addresses[0]}, bob {bobForAlice}");
        output.WriteLine($"bob's view {bobView.Product}: self {bobView.Addresses[0]}, alice {aliceForBob}, carol {carolForBob}");

        // The same friend has different addresses in different views (each node has its own pool).
        Assert.NotEqual(aliceView.Addresses[0].Split('/')[0], aliceForBob);
        Assert.NotEqual(bobView.Addresses[0].Split('/')[0], bobForAlice);

        Assert.True(await EventuallyPingsAsync(alice.Namespace, bobForAlice, TimeSpan.FromSeconds(15)), "alice cannot ping bob");
        Assert.True(await EventuallyPingsAsync(bob.Namespace, aliceForBob, TimeSpan.FromSeconds(15)), "bob cannot ping alice");
        Assert.True(await EventuallyPingsAsync(bob.Namespace, carolForBob, TimeSpan.FromSeconds(15)), "bob cannot ping carol");
        Assert.True(await EventuallyPingsAsync(carol.Namespace, bobForCarol, TimeSpan.FromSeconds(15)), "carol cannot ping bob");

        // TCP and UDP through the translation, both directions.
        using (LabProcess server = lab.Lab.Start(bob.Namespace, "iperf3", ["-s", "-1"]))
        {
            await Task.Delay(500, Ct);
            CommandResult tcp = alice.Namespace.TryExec(TimeSpan.FromSeconds(30), "iperf3", "-c", bobForAlice, "-t", "2", "-J");
            Assert.True(tcp.ExitCode == 0, tcp.StandardOutput + tcp.StandardError);
            output.WriteLine($"alice -> bob TCP {ReceivedMbps(tcp.StandardOutput):F0} Mbit/s");
            Assert.True(ReceivedMbps(tcp.StandardOutput) > 1);
        }

        using (LabProcess server = lab.Lab.Start(alice.Namespace, "iperf3", ["-s", "-1"]))
        {
            await Task.Delay(500, Ct);
            CommandResult udp = bob.Namespace.TryExec(TimeSpan.FromSeconds(30), "iperf3", "-u", "-b", "20M", "-c", aliceForBob, "-t", "2", "-J");
            Assert.True(udp.ExitCode == 0, udp.StandardOutput + udp.StandardError);
            using JsonDocument json = JsonDocument.Parse(udp.StandardOutput);
            long packets = json.RootElement.GetProperty("end").GetProperty("sum").GetProperty("packets").GetInt64();
            double lost = json.RootElement.GetProperty("end").GetProperty("sum").GetProperty("lost_percent").GetDouble();
            output.WriteLine($"bob -> alice UDP: {packets} datagrams, {lost:F1}% lost");
            Assert.True(packets > 100 && lost < 50, udp.StandardOutput);
        }

        // Friends of friends are never linked: alice has no address for carol and carol's node refuses alice.
        Assert.DoesNotContain((await StatusAsync(alice)).Peers, p => p.User == Jid("carol"));
        Assert.DoesNotContain((await StatusAsync(carol)).Peers, p => p.User == Jid("alice"));
        Assert.False(alice.Namespace.Ping(carolForBob, count: 2, deadlineSeconds: 3));
    }

    [Fact]
    public async Task A_node_whose_lan_uses_the_default_pool_picks_another()
    {
        ProductNode dora = await NodeAsync("dora", "public", prepare: ns =>
        {
            // Dora's LAN already uses 198.19.100.0/24, inside the first default pool (198.19.96.0/20).
            ns.Exec("ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1");
            ns.Exec("ip", "addr", "add", "198.19.100.7/24", "dev", "lan0");
            ns.Exec("ip", "link", "set", "lan0", "up");
        });
        await dora.StartAsync("SocialVPN node");
        StatusReport view = await StatusAsync(dora);
        output.WriteLine($"dora's view: {view.Product} self {view.Addresses[0]}");
        Assert.Equal("198.19.112.1/20", view.Addresses[0]);
    }

    [Fact]
    public async Task A_friend_request_accepted_at_run_time_links_within_seconds_and_unfriending_removes_the_link()
    {
        ProductNode erin = await NodeAsync("erin", "public");
        ProductNode frank = await NodeAsync("frank", "public");
        // erin accepts frank by policy; frank's own "phone" (another XMPP session of frank) sends the request.
        string config = File.ReadAllText(erin.ConfigPath).Replace("\"FriendRequestPolicy\":\"AcceptNone\"", $"\"FriendRequestPolicy\":\"AcceptListed\",\"AcceptedFriends\":[\"{Jid("frank")}\"]", StringComparison.Ordinal);
        File.WriteAllText(erin.ConfigPath, config);
        await erin.StartAsync("SocialVPN node");
        await frank.StartAsync("SocialVPN node");

        await using var phone = new XmppSignaling(new XmppSignalingOptions
        {
            Jid = Jid("frank"),
            Password = "pw-" + User("frank"),
            Server = lab.Xmpp.Address,
            Port = lab.Xmpp.Port,
            TrustedCaFile = lab.Xmpp.CertificatePath,
        });
        // Prosody lives in the lab: the phone's TCP socket is created on a thread that joined frank's namespace
        // (a socket stays in the namespace it was created in, whichever thread uses it later).
        Ipop.Tap.Interop.NetworkNamespaceScope.Run(frank.Namespace.Name, () =>
        {
            phone.ConnectAsync(Ct).GetAwaiter().GetResult();
            return true;
        }, TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        await phone.RequestFriendshipAsync(Jid("erin"), Ct);
        string erinForFrank = await AddressOfAsync(frank, "erin", TimeSpan.FromSeconds(30));
        output.WriteLine($"new friend reachable {clock.Elapsed.TotalSeconds:F1} s after the request");
        Assert.True(await EventuallyPingsAsync(frank.Namespace, erinForFrank, TimeSpan.FromSeconds(15)));

        await phone.RemoveFriendAsync(Jid("erin"), Ct);
        var gone = Stopwatch.StartNew();
        while (gone.Elapsed < TimeSpan.FromSeconds(20) && (await StatusAsync(frank)).Peers.Any(p => p.User == Jid("erin")))
        {
            await Task.Delay(300, Ct);
        }

        Assert.DoesNotContain((await StatusAsync(frank)).Peers, p => p.User == Jid("erin"));
        Assert.False(frank.Namespace.Ping(erinForFrank, count: 2, deadlineSeconds: 3));
    }

    private static double ReceivedMbps(string iperfJson)
    {
        using JsonDocument json = JsonDocument.Parse(iperfJson);
        return json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e6;
    }
}
