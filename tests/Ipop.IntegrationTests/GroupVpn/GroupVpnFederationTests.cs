using System.Diagnostics;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;
using Ipop.Lab.Servers;

namespace Ipop.IntegrationTests.GroupVpn;

/// <summary>
/// Issue 16 item 6: one group across two federated XMPP servers. Two prosody instances, each in its own namespace with
/// its own domain (a.lab.test, b.lab.test), federate server to server (STARTTLS with self-signed certificates,
/// XEP-0220 dialback). The members-only room lives on a's MUC component; its owner on a adds members of both domains.
/// Four <c>groupvpn</c> processes, two per domain, each logged in to its own server, ping each other over the overlay:
/// every signaling message between domains (presence through the room, link offers and answers) crossed s2s.
/// </summary>
public sealed class GroupVpnFederationTests(ITestOutputHelper output) : IDisposable
{
    private const string Subnet = "198.19.0.0/24";
    private readonly NetworkLab _lab = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("ipop-federation-").FullName;
    private readonly List<ProductNode> _nodes = [];
    private readonly List<ProsodyServer> _servers = [];

    public void Dispose()
    {
        foreach (ProductNode n in _nodes)
        {
            n.Dispose();
        }

        foreach (ProsodyServer s in _servers)
        {
            s.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _lab.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<ProsodyServer> ServerAsync(LabSegment internet, string domain, string address, string otherDomain, string otherAddress)
    {
        LabNamespace ns = _lab.AddNamespace("x" + domain[0]);
        _lab.Connect(ns, internet, "eth0", address + "/24");
        var options = new ProsodyServerOptions { NetworkNamespace = ns.Name, ListenAddress = address, Domain = domain };
        options.S2sRoutes[otherDomain] = otherAddress;
        options.S2sRoutes["conference." + otherDomain] = otherAddress;
        ProsodyServer server = await ProsodyServer.StartAsync(options, TestContext.Current.CancellationToken);
        _servers.Add(server);
        return server;
    }

    private async Task<ProductNode> NodeAsync(LabSegment internet, ProsodyServer server, string user, int host, string group)
    {
        await server.RegisterAsync(user, "pw-" + user, TestContext.Current.CancellationToken);
        LabNamespace ns = _lab.AddNamespace(user);
        _lab.Connect(ns, internet, "eth0", $"198.18.0.{20 + host}/24");
        string dir = Path.Combine(_directory, user);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(_lab, ns, "groupvpn", dir, new
        {
            Xmpp = new
            {
                Jid = $"{user}@{server.Domain}",
                Password = "pw-" + user,
                Server = server.Address,
                Port = server.Port,
                TrustedCaFile = server.CertificatePath,
                KeepaliveInterval = "00:00:05",
                ReconnectMaxDelay = "00:00:05",
                FriendRequestPolicy = "AcceptNone",
            },
            Tincan = new { ListenPort = 0, PrivateKeyPath = Path.Combine(dir, "node.key") },
            GroupVpn = new { Group = group, Subnet, Address = $"198.19.0.{host}", Mode = "tun", InterfaceName = "ipop0", LinkRetryMaxSeconds = 5 },
            Status = new { SocketPath = Path.Combine(dir, "status.sock") },
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

    private string Diagnose() => string.Join("\n----\n", _nodes.Select(n => n.Status() + "\n" + n.Process?.Output))
        + "\n==== prosody logs ====\n" + string.Join("\n----\n", _servers.Select(s => s.Output()));

    [Fact]
    public async Task Members_on_two_federated_servers_form_one_group_in_a_room_on_one_domain_and_all_ping_each_other()
    {
        var clock = Stopwatch.StartNew();
        LabSegment internet = _lab.AddSegment("inet", "198.18.0.0/24");
        ProsodyServer a = await ServerAsync(internet, "a.lab.test", "198.18.0.100", "b.lab.test", "198.18.0.101");
        ProsodyServer b = await ServerAsync(internet, "b.lab.test", "198.18.0.101", "a.lab.test", "198.18.0.100");
        string group = $"fed{Environment.ProcessId}@{a.MucDomain}";

        ProductNode owner = await NodeAsync(internet, a, "alice", 1, group);
        ProductNode carol = await NodeAsync(internet, a, "carol", 2, group);
        ProductNode bob = await NodeAsync(internet, b, "bob", 3, group);
        ProductNode dave = await NodeAsync(internet, b, "dave", 4, group);
        ProductNode[] all = [owner, carol, bob, dave];

        // The owner (on a) creates the members-only room on a's MUC and adds members of both domains.
        CommandResult added = owner.Members("add", "carol@a.lab.test", "bob@b.lab.test", "dave@b.lab.test");
        Assert.True(added.ExitCode == 0, $"members add exited {added.ExitCode}: {added.StandardOutput}{added.StandardError}");
        Assert.Contains($"added dave@b.lab.test to {group}", added.StandardOutput, StringComparison.Ordinal);
        TimeSpan setup = clock.Elapsed;

        foreach (ProductNode n in all)
        {
            n.StartInBackground();
        }

        foreach (ProductNode n in all)
        {
            Assert.True(await n.Process!.WaitForOutputAsync("GroupVPN", TimeSpan.FromSeconds(40)), $"{n.Namespace.Role} did not start\n{Diagnose()}");
        }

        TimeSpan started = clock.Elapsed;

        // All 12 pairs at once (each ping is a process in a namespace, seconds apiece on a loaded machine).
        var converge = Stopwatch.StartNew();
        (string Pair, Task<bool> Pings)[] pairs = [.. all.SelectMany((from, i) => all.Select((_, j) => (i, j)).Where(p => p.i != p.j).Select(p =>
            ($"{from.Namespace.Role} -> 198.19.0.{p.j + 1}", Task.Run(() => EventuallyPingsAsync(from.Namespace, $"198.19.0.{p.j + 1}", TimeSpan.FromSeconds(30))))))];
        bool[] pinged = await Task.WhenAll(pairs.Select(p => p.Pings));
        string[] failed = [.. pairs.Where((_, k) => !pinged[k]).Select(p => p.Pair)];
        Assert.True(failed.Length == 0, $"no ping for {string.Join(", ", failed)}\n{Diagnose()}");

        output.WriteLine($"servers, accounts and room ready in {setup.TotalSeconds:F1} s; 4 hosts started in {(started - setup).TotalSeconds:F1} s; all 12 pairs pinging {converge.Elapsed.TotalSeconds:F1} s later; total {clock.Elapsed.TotalSeconds:F1} s");

        // The cross-domain signaling really went server to server: prosody a completed s2s with b in both directions.
        string[] s2s = [.. File.ReadLines(a.LogPath).Where(l => l.Contains("s2s connection", StringComparison.Ordinal) && l.Contains("b.lab.test", StringComparison.Ordinal))];
        output.WriteLine(string.Join('\n', s2s.Take(6)));
        Assert.Contains(s2s, l => l.Contains("Outgoing", StringComparison.Ordinal) && l.Contains("complete", StringComparison.Ordinal));
        Assert.Contains(s2s, l => l.Contains("Incoming", StringComparison.Ordinal) && l.Contains("complete", StringComparison.Ordinal));
    }
}
