using System.Diagnostics;
using System.Text.Json.Nodes;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.IntegrationTests.Nat;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Cli;

/// <summary>
/// The CLI (docs/cli.md) against real NATs: two <c>ipop-tincan</c> processes behind iptables NATs with real coturn
/// (<see cref="NatLabFixture"/>), linked through their controller APIs; then <c>peers</c>, <c>ping</c> and <c>why</c>
/// run as a user would, as separate processes talking to each node's status socket.
/// </summary>
public sealed class CliLabTests(NatLabFixture lab, ITestOutputHelper output) : IClassFixture<NatLabFixture>, IAsyncDisposable
{
    private readonly List<ApiNode> _nodes = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        foreach (ApiNode n in _nodes)
        {
            await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Cone_nat_pair_shows_direct_and_ping_prints_the_direct_pair()
    {
        (ApiNode a, ApiNode b) = await LinkAsync(lab.Cone1, lab.Cone2);
        JsonArray peers = await WaitForPathAsync(a, b.Id, "direct");
        JsonNode peer = peers.Single(p => p!["peer"]!.GetValue<string>() == b.Id)!;
        Assert.Equal("Connected", peer["state"]!.GetValue<string>());
        Assert.NotNull(peer["remote"]);
        Assert.NotEqual("relay", peer["local"]!["type"]!.GetValue<string>());

        CommandResult table = Cli("peers", "--socket", a.StatusSocket);
        output.WriteLine(table.StandardOutput);
        Assert.Equal(0, table.ExitCode);
        // Links made through the controller API carry no overlay addresses in ipop-tincan's report ("-").
        Assert.Matches($@"(?m)^{b.Id}\s+-\s+Connected\s+direct\s+host 198\.18\.1\.10:\d+ <-> (srflx|prflx|host) 198\.18\.0\.12:\d+", table.StandardOutput);

        CommandResult ping = Cli("ping", b.Id, "--count", "3", "--socket", a.StatusSocket);
        output.WriteLine(ping.StandardOutput + ping.StandardError);
        Assert.Equal(0, ping.ExitCode);
        Assert.Equal(3, ping.StandardOutput.Split('\n').Count(l => l.StartsWith($"reply from {b.Id}: direct host 198.18.1.10:", StringComparison.Ordinal)));
        Assert.Contains($"--- {b.Id}: 3 sent, 3 replied", ping.StandardOutput, StringComparison.Ordinal);

        CommandResult why = Cli("why", b.Id, "--socket", a.StatusSocket);
        output.WriteLine(why.StandardOutput);
        Assert.Contains("why: the link is up and direct", why.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Symmetric_nat_pair_shows_relayed_and_why_names_the_failed_checks()
    {
        (ApiNode a, ApiNode b) = await LinkAsync(lab.Symmetric1, lab.Symmetric2);
        JsonArray peers = await WaitForPathAsync(a, b.Id, "relayed");
        JsonNode peer = peers.Single(p => p!["peer"]!.GetValue<string>() == b.Id)!;
        Assert.Equal("198.18.0.3:3478", peer["turnServer"]!.GetValue<string>());

        CommandResult why = Cli("why", b.Id, "--socket", a.StatusSocket);
        output.WriteLine(why.StandardOutput + why.StandardError);
        Assert.Equal(0, why.ExitCode);
        Assert.Contains($"{b.Id}: Connected, relayed via TURN 198.18.0.3:3478", why.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("why: no direct candidate pair was answered", why.StandardOutput, StringComparison.Ordinal);

        // Every direct pair is listed with checks sent and none answered.
        string[] directRows = [.. why.StandardOutput.Split('\n').Where(l => l.StartsWith("host 198.18.3.10:", StringComparison.Ordinal) && !l.Contains(" relay ", StringComparison.Ordinal))];
        Assert.NotEmpty(directRows);
        Assert.All(directRows, r => Assert.Matches(@"^host \S+\s+(host|srflx|prflx) \S+\s+(failed|inprogress|waiting)\s+\d+\s+0\s+", r));
        Assert.Contains(directRows, r => r.Contains("nothing got through", StringComparison.Ordinal) || r.Contains("no answer", StringComparison.Ordinal));

        CommandResult ping = Cli("ping", b.Id, "--count", "2", "--socket", a.StatusSocket);
        output.WriteLine(ping.StandardOutput + ping.StandardError);
        Assert.Equal(0, ping.ExitCode);
        Assert.Contains($"reply from {b.Id}: relayed via TURN 198.18.0.3:3478 (", ping.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_peer_and_missing_socket_are_one_line_errors_with_exit_1()
    {
        (ApiNode a, _) = await LinkAsync(lab.Cone1, lab.Cone2);
        CommandResult ping = Cli("ping", "nobody", "--count", "1", "--socket", a.StatusSocket);
        Assert.Equal(1, ping.ExitCode);
        Assert.Matches(@"^ipop-tincan: no peer 'nobody' \(peers: [^)]+\)\n$", ping.StandardError);

        CommandResult missing = Cli("peers", "--socket", a.StatusSocket + ".gone");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"ipop-tincan: no status socket at {a.StatusSocket}.gone (is the node running? see Status:SocketPath)\n", missing.StandardError);

        CommandResult usage = Cli("ping", "--socket", a.StatusSocket);
        Assert.Equal(2, usage.ExitCode);

        // One STUN server cannot tell the NAT's mapping behaviour, and netcheck says so rather than guess.
        CommandResult netcheck = Cli("netcheck", "--timeout", "2", "--socket", a.StatusSocket);
        output.WriteLine(netcheck.StandardOutput + netcheck.StandardError);
        Assert.Equal(0, netcheck.ExitCode);
        Assert.StartsWith("NAT mapping: unknown\n", netcheck.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("but only one STUN server answered; comparing mappings needs two", netcheck.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cone", "Cone NAT (endpoint-independent mapping): every server saw 198.18.0.12:")]
    [InlineData("symmetric", "Symmetric NAT (endpoint-dependent mapping): 198.18.0.3:3478 saw 198.18.0.13:")]
    public async Task Netcheck_with_two_stun_servers_tells_a_cone_nat_from_a_symmetric_one(string nat, string expected)
    {
        // Real iptables NATs (MASQUERADE, and MASQUERADE --random-fully for symmetric) and two real coturn STUN servers.
        string dir = Path.Combine(lab.Directory, "netcheck-" + nat);
        Directory.CreateDirectory(dir);
        LabNamespace ns = nat == "cone" ? lab.Cone2 : lab.Symmetric1;
        ApiNode node = await ApiNode.StartAsync(lab.Lab, ns, dir, NatLabFixture.TwoStun, NatLabFixture.TurnList, Ct);
        _nodes.Add(node);

        CommandResult netcheck = Cli("netcheck", "--timeout", "3", "--socket", node.StatusSocket);
        output.WriteLine(netcheck.StandardOutput + netcheck.StandardError);
        Assert.Equal(0, netcheck.ExitCode);
        Assert.StartsWith($"NAT mapping: {(nat == "cone" ? "cone (endpoint-independent)" : "symmetric (endpoint-dependent)")}\n", netcheck.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(expected, netcheck.StandardOutput, StringComparison.Ordinal);

        // Both STUN servers are listed with their latency.
        Assert.Matches(@"(?m)^stun\s+198\.18\.0\.3:3478\s+\S+\s+\d+\.\d ms\s", netcheck.StandardOutput);
        Assert.Matches($@"(?m)^stun\s+198\.18\.0\.3:{NatLabFixture.SecondStunPort}\s+\S+\s+\d+\.\d ms\s", netcheck.StandardOutput);
    }

    private static CommandResult Cli(params string[] args) =>
        Cmd.TryRun(TimeSpan.FromSeconds(60), Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args(args));

    private async Task<JsonArray> WaitForPathAsync(ApiNode a, string peer, string path)
    {
        // The path settles after the first packets (a relay first, then direct once a hole is punched): bounded wait.
        var clock = Stopwatch.StartNew();
        JsonArray peers = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            CommandResult r = Cli("peers", "--json", "--socket", a.StatusSocket);
            Assert.True(r.ExitCode == 0, r.StandardError);
            peers = JsonNode.Parse(r.StandardOutput)!.AsArray();
            if (peers.Any(p => p!["peer"]!.GetValue<string>() == peer && p["path"]!.GetValue<string>() == path))
            {
                output.WriteLine($"peers --json shows {path} after {clock.ElapsedMilliseconds} ms: {r.StandardOutput}");
                return peers;
            }

            await Task.Delay(500, Ct);
        }

        Assert.Fail($"{peer} never showed path {path}: {peers.ToJsonString()}");
        return peers;
    }

    private Task<(ApiNode A, ApiNode B)> LinkAsync(LabNamespace a, LabNamespace b) =>
        ApiNodePair.LinkAsync(lab, a, b, "cli", _nodes, TimeSpan.FromSeconds(20), Ct);
}
