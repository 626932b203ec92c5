using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ipop.Samples.Hosting;
using Ipop.Lab.Namespaces;
using Ipop.Lab.Servers;
using Spectre.Console;

// The README demo, parts 2 and 3: GroupVPN and SocialVPN across NATs with real prosody and coturn.
// Everything lives in network namespaces that are removed at the end (also on Ctrl+C or failure).
string root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "Ipop.sln")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run from the repository");
}

string config = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
// The hosts as they ship: the Native AOT binaries of scripts/publish.sh when published (IPOP_HOSTS=jit: the JIT build).
bool jit = string.Equals(Environment.GetEnvironmentVariable("IPOP_HOSTS"), "jit", StringComparison.OrdinalIgnoreCase);
string[] HostCommand(string name, string project)
{
    string native = Path.Combine(root, "artifacts/publish", name, name);
    return !jit && File.Exists(native) ? [native] : ["dotnet", Path.Combine(root, project, "bin", config, "net10.0", name + ".dll")];
}

string[] groupvpn = HostCommand("groupvpn", "samples/GroupVpnHost");
string[] socialvpn = HostCommand("socialvpn", "samples/SocialVpnHost");
Console.WriteLine($"demo hosts: {string.Join(' ', groupvpn)}, {string.Join(' ', socialvpn)}");
string dir = Directory.CreateTempSubdirectory("ipop-demo-").FullName;
AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 150); // logs and CI are not 80-column terminals
using var lab = new NetworkLab();
using var cancel = new CancellationTokenSource();
var processes = new List<LabProcess>();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    await RunAsync();
    return 0;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    AnsiConsole.MarkupLine($"[red]demo failed:[/] {Markup.Escape(e.ToString())}");
    foreach (LabProcess p in processes)
    {
        AnsiConsole.MarkupLine($"[grey]--- {Markup.Escape(p.Description)} (last lines)[/]");
        AnsiConsole.WriteLine(string.Join('\n', p.Output.Split('\n').TakeLast(15)));
    }

    return 1;
}
finally
{
    AnsiConsole.MarkupLine("[grey]cleaning up namespaces, processes and devices...[/]");
    lab.Dispose();
    Directory.Delete(dir, recursive: true);
}

async Task RunAsync()
{
    AnsiConsole.Write(new Rule("[bold]2. GroupVPN across NATs[/]"));
    LabSegment internet = lab.AddSegment("inet", "198.18.0.0/24");
    LabNamespace xmppNs = lab.AddNamespace("xmpp");
    lab.Connect(xmppNs, internet, "eth0", "198.18.0.100/24");
    LabNamespace turnNs = lab.AddNamespace("turn");
    lab.Connect(turnNs, internet, "eth0", "198.18.0.3/24");
    (_, LabSegment coneLan) = lab.AddNatRouter("cone", internet, "198.18.0.11/24", null, "198.18.1.0/24", "198.18.1.1/24", NatKind.Cone);
    (_, LabSegment symLan) = lab.AddNatRouter("sym", internet, "198.18.0.13/24", null, "198.18.3.0/24", "198.18.3.1/24", NatKind.Symmetric);
    await using ProsodyServer xmpp = await ProsodyServer.StartAsync(new ProsodyServerOptions { NetworkNamespace = xmppNs.Name, ListenAddress = "198.18.0.100" });
    using CoturnServer turn = await CoturnServer.StartAsync(new CoturnOptions
    {
        NetworkNamespace = turnNs.Name,
        ListenAddress = IPAddress.Parse("198.18.0.3"),
        RelayAddress = IPAddress.Parse("198.18.0.3"),
        Port = 3478,
        RelayPorts = (49152, 49400),
        AllowLoopbackPeers = false,
    });
    AnsiConsole.MarkupLine("internet 198.18.0.0/24: prosody 198.18.0.100 (TLS, SCRAM, MUC), coturn 198.18.0.3; a cone NAT (198.18.0.11) and a symmetric NAT (198.18.0.13)");

    int hostNumber = 20;
    LabNamespace Host(string role, string where)
    {
        hostNumber++;
        LabNamespace ns = lab.AddNamespace(role);
        (LabSegment seg, string prefix, string? gw) = where switch
        {
            "cone" => (coneLan, "198.18.1", "198.18.1.1"),
            "symmetric" => (symLan, "198.18.3", "198.18.3.1"),
            _ => (internet, "198.18.0", (string?)null),
        };
        lab.Connect(ns, seg, "eth0", $"{prefix}.{hostNumber}/24");
        if (gw is not null)
        {
            ns.Exec("ip", "route", "add", "default", "via", gw);
        }

        return ns;
    }

    // Config files as JSON nodes: written without reflection (JsonNode needs no serializer metadata).
    JsonObject Xmpp(string user) => new() { ["Jid"] = $"{user}@{xmpp.Domain}", ["Password"] = "pw-" + user, ["Server"] = xmpp.Address, ["Port"] = xmpp.Port, ["TrustedCaFile"] = xmpp.CertificatePath, ["FriendRequestPolicy"] = "AcceptNone" };
    JsonObject Tincan(string user) => new()
    {
        ["PrivateKeyPath"] = Path.Combine(dir, user + ".key"),
        ["StunServers"] = new JsonArray(new JsonObject { ["Host"] = "198.18.0.3", ["Port"] = 3478 }),
        ["TurnServers"] = new JsonArray(new JsonObject { ["Host"] = "198.18.0.3", ["Port"] = 3478, ["Username"] = "u", ["Password"] = "p" }),
    };

    async Task<(LabNamespace Ns, LabProcess Process, string Config)> StartAsync(string[] program, string user, string where, JsonObject productSection, string sectionName, Action<LabNamespace>? prepare = null)
    {
        await xmpp.RegisterAsync(user, "pw-" + user);
        LabNamespace ns = Host(user, where);
        prepare?.Invoke(ns);
        string path = Path.Combine(dir, user + ".json");
        var document = new JsonObject
        {
            ["Xmpp"] = Xmpp(user),
            ["Tincan"] = Tincan(user),
            [sectionName] = productSection,
            ["Status"] = new JsonObject { ["SocketPath"] = Path.Combine(dir, user + ".sock") },
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning" } },
        };
        await File.WriteAllTextAsync(path, document.ToJsonString());
        LabProcess p = lab.Start(ns, program[0], [.. program[1..], "run", "--config", path]);
        processes.Add(p);
        return (ns, p, path);
    }

    void GroupAdd(LabNamespace ownerNs, string ownerConfig, string owner, params string[] users)
    {
        CommandResult added = ownerNs.TryExec(TimeSpan.FromSeconds(60), groupvpn[0], [.. groupvpn[1..], "members", "add", .. users.Select(u => $"{u}@{xmpp.Domain}"), "--config", ownerConfig]);
        string said = (added.StandardOutput + added.StandardError).Trim().Replace("\n", "; ", StringComparison.Ordinal);
        AnsiConsole.MarkupLine($"owner {owner}: groupvpn members add {string.Join(' ', users)} -> {Markup.Escape(said)}");
    }

    // GroupVPN, L3: three members behind different NATs.
    string group = $"demo@{xmpp.MucDomain}";
    var members = new List<(string Name, string Address, LabNamespace Ns, string Config)>();
    foreach ((string name, string where, string address) in new[] { ("pub", "public", "198.19.0.1"), ("cone", "cone", "198.19.0.2"), ("sym", "symmetric", "198.19.0.3") })
    {
        (LabNamespace ns, _, string cfg) = await StartAsync(groupvpn, "g" + name, where, new JsonObject { ["Group"] = group, ["Subnet"] = "198.19.0.0/24", ["Address"] = address, ["Mode"] = "tun" }, "GroupVpn");
        members.Add(("g" + name + $" ({where})", address, ns, cfg));
    }

    // Groups are members-only rooms: the owner (gpub, whose first add creates the room) puts the others on the
    // member list. They started first and keep asking until it does.
    GroupAdd(members[0].Ns, members[0].Config, "gpub", "gcone", "gsym");

    var clock = Stopwatch.StartNew();
    var matrix = new Table().Title("ping matrix (GroupVPN, one flat subnet 198.19.0.0/24)").AddColumn("from \\ to");
    foreach (var m in members)
    {
        matrix.AddColumn($"{m.Name} {m.Address}");
    }

    foreach (var from in members)
    {
        var row = new List<string> { from.Name };
        foreach (var to in members)
        {
            row.Add(from == to ? "-" : await EventuallyPingsAsync(from.Ns, to.Address, TimeSpan.FromSeconds(40)) ? "[green]ok[/]" : "[red]no[/]");
        }

        matrix.AddRow(row.ToArray());
    }

    AnsiConsole.Write(matrix);
    AnsiConsole.MarkupLine($"mesh complete after {clock.Elapsed.TotalSeconds:F1} s");
    StatusTable.Write(AnsiConsole.Console, await StatusSocketServer.QueryAsync(Path.Combine(dir, "gpub.sock"), cancel.Token));
    AnsiConsole.MarkupLine($"iperf3 TCP gcone -> gpub over the VPN: [bold]{await IperfAsync(members[1].Ns, members[0].Ns, "198.19.0.1"):F0} Mbit/s[/]");

    // Switch mode: two "containers" behind Linux bridges on two nodes share one Ethernet segment.
    AnsiConsole.Write(new Rule("[bold]GroupVPN switch mode: containers behind bridges[/]"));
    string l2group = $"demo-l2@{xmpp.MucDomain}";
    LabNamespace c1 = null!, c2 = null!;
    (LabNamespace n1, _, string sw1Config) = await StartAsync(groupvpn, "sw1", "public", new JsonObject { ["Group"] = l2group, ["Subnet"] = "198.19.1.0/24", ["Address"] = "198.19.1.1", ["Mode"] = "tap", ["BridgeName"] = "br0", ["InterfaceName"] = "ipoptap0" }, "GroupVpn", ns => c1 = Container(ns, "ctr1", "198.19.1.10/24"));
    (LabNamespace n2, _, _) = await StartAsync(groupvpn, "sw2", "cone", new JsonObject { ["Group"] = l2group, ["Subnet"] = "198.19.1.0/24", ["Address"] = "198.19.1.2", ["Mode"] = "tap", ["BridgeName"] = "br0", ["InterfaceName"] = "ipoptap0" }, "GroupVpn", ns => c2 = Container(ns, "ctr2", "198.19.1.20/24"));
    GroupAdd(n1, sw1Config, "sw1", "sw2");
    bool l2 = await EventuallyPingsAsync(c1, "198.19.1.20", TimeSpan.FromSeconds(40));
    AnsiConsole.MarkupLine($"container 198.19.1.10 (on sw1) -> container 198.19.1.20 (on sw2, behind a cone NAT): {(l2 ? "[green]ping ok[/]" : "[red]no reply[/]")}; ARP: {Markup.Escape(c1.Exec("ip", "neigh", "show", "198.19.1.20").Trim())}");

    AnsiConsole.Write(new Rule("[bold]3. SocialVPN: friends only, a private view each[/]"));
    // alice-bob and bob-carol are friends; alice and carol are not.
    string J(string u) => $"{u}@{xmpp.Domain}";
    xmpp.WriteRoster("alice", [(J("bob"), "both")]);
    xmpp.WriteRoster("bob", [(J("alice"), "both"), (J("carol"), "both")]);
    xmpp.WriteRoster("carol", [(J("bob"), "both")]);
    var users = new List<(string Name, LabNamespace Ns, string Socket)>();
    foreach ((string name, string where) in new[] { ("alice", "public"), ("bob", "cone"), ("carol", "symmetric") })
    {
        (LabNamespace ns, _, _) = await StartAsync(socialvpn, name, where, new JsonObject { ["Pool"] = string.Empty }, "SocialVpn");
        users.Add((name, ns, Path.Combine(dir, name + ".sock")));
    }

    await Task.Delay(TimeSpan.FromSeconds(8), cancel.Token);
    var reach = new Table().Title("reachability (SocialVPN)").AddColumns("from \\ to", "alice", "bob", "carol");
    foreach (var u in users)
    {
        StatusReport view = await StatusSocketServer.QueryAsync(u.Socket, cancel.Token);
        AnsiConsole.MarkupLine($"[bold]{u.Name}'s view[/] ({Markup.Escape(view.Product)}): self {(view.Addresses.Count > 0 ? view.Addresses[0] : "-")}, " +
            string.Join(", ", view.Peers.Select(p => $"{p.User.Split('@')[0]} = {p.Addresses[0]} ({(p.Addresses.Count > 1 ? p.Addresses[1] : "")}, {p.State} {p.Path})")));
        var row = new List<string> { u.Name };
        foreach (var other in users)
        {
            PeerStatusRow? friend = view.Peers.FirstOrDefault(p => p.User == J(other.Name));
            row.Add(other == u ? "-" : friend is null ? "[grey]not a friend[/]" : await EventuallyPingsAsync(u.Ns, friend.Addresses[0], TimeSpan.FromSeconds(20)) ? "[green]ok[/]" : "[red]no[/]");
        }

        reach.AddRow(row.ToArray());
    }

    AnsiConsole.Write(reach);
}

static async Task<bool> EventuallyPingsAsync(LabNamespace from, string to, TimeSpan within)
{
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed < within)
    {
        if (from.Ping(to, count: 1, intervalSeconds: 0.2, deadlineSeconds: 1))
        {
            return true;
        }

        await Task.Yield();
    }

    return false;
}

async Task<double> IperfAsync(LabNamespace client, LabNamespace server, string address)
{
    using LabProcess s = lab.Start(server, "iperf3", ["-s", "-1", "-B", address]);
    await Task.Delay(500, cancel.Token);
    CommandResult r = client.TryExec(TimeSpan.FromSeconds(30), "iperf3", "-c", address, "-t", "3", "-J");
    if (r.ExitCode != 0)
    {
        return 0;
    }

    using JsonDocument json = JsonDocument.Parse(r.StandardOutput);
    return json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e6;
}

LabNamespace Container(LabNamespace node, string role, string address)
{
    node.Exec("ip", "link", "add", "br0", "type", "bridge");
    node.Exec("ip", "link", "set", "br0", "up");
    LabNamespace container = lab.AddNamespace(role);
    Cmd.Run("ip", "link", "add", "eth0", "netns", container.Name, "type", "veth", "peer", "name", "v" + role, "netns", node.Name);
    node.Exec("ip", "link", "set", "v" + role, "master", "br0", "up");
    container.Exec("ip", "link", "set", "eth0", "mtu", "1400");
    container.Exec("ip", "addr", "add", address, "dev", "eth0");
    container.Exec("ip", "link", "set", "eth0", "up");
    return container;
}
