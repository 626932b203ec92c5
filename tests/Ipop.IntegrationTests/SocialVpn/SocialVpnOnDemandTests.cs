using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;
using Ipop.Samples.Hosting;

namespace Ipop.IntegrationTests.SocialVpn;

/// <summary>
/// Issue 16 end to end: <c>socialvpn</c> processes with on-demand links (the default) and real prosody. Friends that
/// are online have no link until the first ping; that single ping is answered (held while the link forms, not lost);
/// the link is released after a short idle time; the next single ping brings it back.
/// </summary>
public sealed partial class SocialVpnOnDemandTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private const int IdleSeconds = 6;
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

    private async Task<ProductNode> NodeAsync(string name, string where, string friend)
    {
        string user = User(name);
        await lab.RegisterAsync(user);
        lab.Xmpp.WriteRoster(user, [(Jid(friend), "both")]);
        LabNamespace ns = lab.Host(user, where);
        string dir = Path.Combine(lab.Directory, user);
        Directory.CreateDirectory(dir);
        var node = new ProductNode(lab.Lab, ns, "socialvpn", dir, new
        {
            Xmpp = lab.XmppSection(user),
            Tincan = OverlayLabFixture.TincanSection(Path.Combine(dir, "node.key")),
            SocialVpn = new { Pool = string.Empty, AddressBookPath = Path.Combine(dir, "book.json"), LinkRetryMaxSeconds = 5, LinkIdleSeconds = IdleSeconds },
            Status = new { SocketPath = Path.Combine(dir, "status.sock") },
        });
        _nodes.Add(node);
        return node;
    }

    private static async Task<StatusReport> StatusAsync(ProductNode node) =>
        await StatusSocketServer.QueryAsync(JsonDocument.Parse(File.ReadAllText(node.ConfigPath)).RootElement.GetProperty("Status").GetProperty("SocketPath").GetString()!, Ct);

    private async Task<PeerStatusRow?> RowAsync(ProductNode node, string friend) => (await StatusAsync(node)).Peers.FirstOrDefault(p => p.User == Jid(friend));

    /// <summary>Polls <paramref name="node"/>'s status until its row for <paramref name="friend"/> is in <paramref name="state"/>.</summary>
    private async Task<PeerStatusRow> WaitForStateAsync(ProductNode node, string friend, string state, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if (await RowAsync(node, friend) is { } row && row.State == state)
            {
                return row;
            }

            await Task.Delay(250, Ct);
        }

        throw new TimeoutException($"{friend} never got to {state} in {node.Namespace.Role}'s view within {within}:\n{JsonSerializer.Serialize(await StatusAsync(node))}\n{node.Process?.Output}");
    }

    /// <summary>One echo request, waiting up to <paramref name="waitSeconds"/> for its reply (no second request is sent).</summary>
    private static (bool Answered, double RttMs) SinglePing(LabNamespace from, string to, int waitSeconds)
    {
        CommandResult r = from.TryExec(TimeSpan.FromSeconds(waitSeconds + 5), "ping", "-4", "-n", "-c", "1", "-W", waitSeconds.ToString(CultureInfo.InvariantCulture), to);
        Match rtt = RttPattern().Match(r.StandardOutput);
        return (r.ExitCode == 0 && rtt.Success, rtt.Success ? double.Parse(rtt.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN);
    }

    [GeneratedRegex(@"icmp_seq=1 ttl=\d+ time=([0-9.]+) ms")]
    private static partial Regex RttPattern();

    [Fact]
    public async Task Online_friends_link_on_the_first_ping_which_is_answered_and_the_idle_link_is_released_and_comes_back()
    {
        ProductNode alice = await NodeAsync("alice", "public", "bob");
        ProductNode bob = await NodeAsync("bob", "cone", "alice");
        await alice.StartAsync("SocialVPN node");
        await bob.StartAsync("SocialVPN node");

        // Both online, both friends: an address each, but no link, and none comes by itself.
        string bobForAlice = (await WaitForStateAsync(alice, "bob", "Idle", TimeSpan.FromSeconds(30))).Addresses[0];
        await WaitForStateAsync(bob, "alice", "Idle", TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        Assert.Equal("Idle", (await RowAsync(alice, "bob"))!.State);
        Assert.Equal("Idle", (await RowAsync(bob, "alice"))!.State);

        // The first ping is held while the link forms and answered: one request, one reply.
        (bool first, double firstRtt) = SinglePing(alice.Namespace, bobForAlice, 15);
        Assert.True(first, $"the first ping was lost\n{alice.Process?.Output}\n{bob.Process?.Output}");
        PeerStatusRow linked = await WaitForStateAsync(alice, "bob", "Connected", TimeSpan.FromSeconds(5));
        (bool steady, double steadyRtt) = SinglePing(alice.Namespace, bobForAlice, 5);
        Assert.True(steady);
        output.WriteLine($"first ping (link made on demand, {linked.Path}): {firstRtt:F0} ms; next ping: {steadyRtt:F1} ms");

        // Idle: released (between IdleSeconds and 1.25 IdleSeconds after the last packet, plus the status poll), on both sides.
        var idle = Stopwatch.StartNew();
        await WaitForStateAsync(alice, "bob", "Idle", TimeSpan.FromSeconds((IdleSeconds * 1.25) + 10));
        double releasedAfter = idle.Elapsed.TotalSeconds;
        await WaitForStateAsync(bob, "alice", "Idle", TimeSpan.FromSeconds(10));
        output.WriteLine($"released {releasedAfter:F1} s after the last ping (LinkIdleSeconds = {IdleSeconds})");
        Assert.True(releasedAfter >= IdleSeconds - 1, $"released after {releasedAfter:F1} s, before the idle time");

        // The next single ping brings it back, and is answered too.
        (bool again, double againRtt) = SinglePing(alice.Namespace, bobForAlice, 15);
        Assert.True(again, $"the ping after the release was lost\n{alice.Process?.Output}");
        await WaitForStateAsync(alice, "bob", "Connected", TimeSpan.FromSeconds(5));
        output.WriteLine($"ping after the release: {againRtt:F0} ms");

        // And bob's side can start one too: his first ping to alice, after both released again.
        await WaitForStateAsync(alice, "bob", "Idle", TimeSpan.FromSeconds((IdleSeconds * 1.25) + 10));
        await WaitForStateAsync(bob, "alice", "Idle", TimeSpan.FromSeconds(10));
        string aliceForBob = (await RowAsync(bob, "alice"))!.Addresses[0];
        (bool fromBob, double fromBobRtt) = SinglePing(bob.Namespace, aliceForBob, 15);
        Assert.True(fromBob, $"bob's first ping was lost\n{bob.Process?.Output}");
        output.WriteLine($"bob's first ping (from behind the cone NAT): {fromBobRtt:F0} ms");
    }
}
