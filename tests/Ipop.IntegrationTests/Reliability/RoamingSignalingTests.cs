using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 13, a moving underlay that needs signaling or a NAT: GroupVPN members with the real prosody and coturn.
/// Both sides renumbered at once (neither can reach the other's old address, so the new candidates must travel through
/// XMPP), and a NAT whose public address changes. The time from the change to the first ping reply through the tunnel
/// (pings every 0.1 s) is measured and reported.
/// </summary>
public sealed partial class RoamingSignalingTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    // One group name stem per test: xunit makes a new instance per test, and a room name must not repeat.
    private readonly GroupLab _group = new(lab, "roam" + Guid.NewGuid().ToString("N")[..6]);

    public void Dispose() => _group.Dispose();

    [Fact]
    public async Task Both_sides_renumbered_at_once_relink_through_signaling()
    {
        string group = _group.NewGroup();
        await _group.AddMembersAsync("rown", group, ["rpa", "rpb"]);
        ProductNode a = await _group.NodeAsync("rpa", "public", group, "198.19.0.1");
        ProductNode b = await _group.NodeAsync("rpb", "public", group, "198.19.0.2");
        await a.StartAsync("GroupVPN");
        await b.StartAsync("GroupVPN");
        Assert.True(await _group.ConvergeAsync([a, b], TimeSpan.FromSeconds(60)) is not null, _group.Diagnose());
        Assert.True(a.Namespace.Ping("198.19.0.2", count: 2, deadlineSeconds: 10), _group.Diagnose());

        string oldA = Address(a.Namespace);
        string oldB = Address(b.Namespace);
        string newA = Moved(oldA);
        string newB = Moved(oldB);
        var clock = Stopwatch.StartNew();
        Renumber(a.Namespace, oldA, newA);
        Renumber(b.Namespace, oldB, newB);
        TimeSpan? recovered = await RoamingTests.FirstReplyAsync(a.Namespace, "198.19.0.2", clock, TimeSpan.FromSeconds(40));
        output.WriteLine($"both renumbered ({oldA} -> {newA}, {oldB} -> {newB}): first ping reply after {(recovered is { } t ? $"{t.TotalMilliseconds:F0} ms" : "none")}");
        output.WriteLine(Timeline(a) + "\n" + Timeline(b));
        // Issue 13's target, 5 s. Measured 1.37 s on a quiet machine: each side finds its XMPP connection's local
        // address gone and reconnects at once (no 2 s ping, no backoff), then the descriptors cross the server again.
        // It was 3.4-4.3 s with the ping, and 7.2 s once on a machine at load 30, which this no longer waits for.
        Assert.True(recovered is { } r && r < TimeSpan.FromSeconds(5), _group.Diagnose());
    }

    [Fact]
    public async Task A_nat_whose_public_address_changes_keeps_its_members_link()
    {
        // A NAT of this test's own, so its outside address can change without disturbing the fixture's.
        (LabNamespace router, LabSegment lan) = lab.Lab.AddNatRouter("rnat", lab.Internet, "198.18.0.15/24", null, "198.18.5.0/24", "198.18.5.1/24", NatKind.Cone);
        string group = _group.NewGroup();
        await _group.AddMembersAsync("rown2", group, ["rnp", "rnc"]);
        ProductNode pub = await _group.NodeAsync("rnp", "public", group, "198.19.0.1");
        await lab.RegisterAsync("rnc");
        LabNamespace host = lab.Lab.AddNamespace("rnc");
        lab.Lab.Connect(host, lan, "eth0", "198.18.5.20/24");
        host.Exec("ip", "route", "add", "default", "via", "198.18.5.1");
        string dir = Path.Combine(lab.Directory, "rnc");
        Directory.CreateDirectory(dir);
        using var natted = new ProductNode(lab.Lab, host, "groupvpn", dir, _group.Config("rnc", dir, group, "198.19.0.2"));
        await pub.StartAsync("GroupVPN");
        await natted.StartAsync("GroupVPN");
        Assert.True(await _group.ConvergeAsync([pub, natted], TimeSpan.FromSeconds(60)) is not null, _group.Diagnose([pub, natted]));
        Assert.True(pub.Namespace.Ping("198.19.0.2", count: 2, deadlineSeconds: 10), _group.Diagnose([pub, natted]));
        string path = (await GroupLab.PeersAsync(pub)).Single().Path;
        output.WriteLine($"public -> natted before the change: {path}");

        // The NAT's outside address changes (MASQUERADE follows the interface; removing the address flushes its
        // mappings, as a new lease or a carrier-grade NAT rebalancing does). The natted member pings the public one:
        // its first packet leaves from the new public address, and the public member's link follows that source.
        var clock = Stopwatch.StartNew();
        router.Exec("ip", "addr", "del", "198.18.0.15/24", "dev", "wan");
        router.Exec("ip", "addr", "add", "198.18.0.16/24", "dev", "wan");
        TimeSpan? outward = await RoamingTests.FirstReplyAsync(natted.Namespace, "198.19.0.1", clock, TimeSpan.FromSeconds(30));
        output.WriteLine($"NAT public address 198.18.0.15 -> 198.18.0.16: first ping reply (natted -> public) after {(outward is { } o ? $"{o.TotalMilliseconds:F0} ms" : "none")}");
        Assert.True(outward is { } w && w < TimeSpan.FromSeconds(4), _group.Diagnose([pub, natted]));

        // The other way round, with the natted member idle: the public member's packets go to the old public address
        // until the natted member sends anything. The change also resets the natted member's XMPP connection (its next
        // segment leaves from the new address and the server answers with a reset), so its presence flaps. The link
        // must be kept across the flap (no stale server-reflexive candidate bound again) and follow the natted
        // member's first packet from the new address: its announcement after the XMPP reconnect, at the latest its
        // persistent keepalive (10 s). Three changes, the natted member idle for 3 s before each; conntrack is flushed
        // too, as a rebooted NAT or a carrier-grade one rebalancing would.
        List<double> inwardMs = [];
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            string from = $"198.18.0.{16 + i}";
            string to = $"198.18.0.{17 + i}";
            clock.Restart();
            router.Exec("ip", "addr", "del", from + "/24", "dev", "wan");
            router.Exec("ip", "addr", "add", to + "/24", "dev", "wan");
            router.TryExec(TimeSpan.FromSeconds(5), "conntrack", "-F");
            TimeSpan? inward = await RoamingTests.FirstReplyAsync(pub.Namespace, "198.19.0.2", clock, TimeSpan.FromSeconds(25));
            output.WriteLine($"NAT public address {from} -> {to}: first ping reply (public -> natted, natted idle) after {(inward is { } t ? $"{t.TotalMilliseconds:F0} ms" : "none within 25 s")}");
            Assert.True(inward is not null, Timeline(pub) + "\n" + Timeline(natted) + "\n" + _group.Diagnose([pub, natted]));
            inwardMs.Add(inward.Value.TotalMilliseconds);
        }

        output.WriteLine(Timeline(pub) + "\n" + Timeline(natted));
        Assert.Contains("went offline (its session ended", pub.Process!.Output, StringComparison.Ordinal); // the flap happened and the link was kept

        // Target 5 s; bounded by the natted member's persistent keepalive (10 s) when its XMPP connection notices late.
        // The lab checks XMPP every 5 s, so the reset is seen within about 6 s; 10 s leaves room for a loaded CI machine.
        // Before the presence grace there was no reply within 20 s.
        Assert.True(inwardMs.Max() < 10_000, $"public -> natted recoveries: {string.Join(", ", inwardMs.Select(m => m.ToString("F0", CultureInfo.InvariantCulture)))} ms\n{_group.Diagnose([pub, natted])}");
    }

    private static string Address(LabNamespace ns)
    {
        Match m = Inet().Match(ns.Exec("ip", "-4", "-o", "addr", "show", "dev", "eth0"));
        Assert.True(m.Success);
        return m.Groups[1].Value;
    }

    // 198.18.0.n -> 198.18.0.(n + 150): outside the fixture's servers, NATs and hosts.
    private static string Moved(string address)
    {
        string[] parts = address.Split('/')[0].Split('.');
        int last = int.Parse(parts[3], CultureInfo.InvariantCulture) + 150;
        Assert.True(last < 255);
        return $"{parts[0]}.{parts[1]}.{parts[2]}.{last}/24";
    }

    private static void Renumber(LabNamespace ns, string oldAddress, string newAddress)
    {
        ns.Exec("ip", "addr", "del", oldAddress, "dev", "eth0");
        ns.Exec("ip", "addr", "add", newAddress, "dev", "eth0");
    }

    private static string Timeline(ProductNode n) =>
        n.Namespace.Role + ": " + string.Join(" | ", (n.Process?.Output ?? string.Empty).Split('\n').Where(l => l.Contains("addresses changed", StringComparison.Ordinal) || l.Contains("XMPP", StringComparison.Ordinal) || l.Contains("candidates changed", StringComparison.Ordinal) || l.Contains("switched path", StringComparison.Ordinal) || l.Contains("gone", StringComparison.Ordinal) || l.Contains("connected over", StringComparison.Ordinal)
            || l.Contains("went offline", StringComparison.Ordinal) || l.Contains("is back after", StringComparison.Ordinal) || l.Contains("Signaling was reset", StringComparison.Ordinal)
            || l.Contains("public address changed", StringComparison.Ordinal)).TakeLast(24));

    [GeneratedRegex(@"inet (\d+\.\d+\.\d+\.\d+/\d+)")]
    private static partial Regex Inet();
}
