using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.TincanHost;

/// <summary>
/// Overlay forwarding with real TUN devices (issue 16): three namespaces in a line, a–b and b–c wired, an
/// <c>ipop-tincan</c> in each; a and c have no link and no wire, and b's kernel does not forward. b runs with
/// <c>Interface:Forward</c> and its allowed IPs route a's and c's addresses to their links, so b's Tincan forwards
/// between them, one hop older.
/// </summary>
public sealed class ForwardingTunnelTests : IDisposable
{
    private readonly NetworkLab _lab = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-fwd-").FullName;
    private readonly LabNamespace _a;
    private readonly LabNamespace _b;
    private readonly LabNamespace _c;

    public ForwardingTunnelTests()
    {
        _a = _lab.AddNamespace("a");
        _b = _lab.AddNamespace("b");
        _c = _lab.AddNamespace("c");
        _lab.ConnectDirect(_a, "eth0", "198.18.0.1/24", _b, "eth0", "198.18.0.2/24");
        _lab.ConnectDirect(_b, "eth1", "198.18.1.2/24", _c, "eth0", "198.18.1.3/24");
    }

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_pings_c_through_b_with_no_link_between_a_and_c_and_the_replies_are_one_hop_older()
    {
        (TincanNodeProcess a, TincanNodeProcess b, TincanNodeProcess c) = await StartLineAsync(forward: true);
        string summary = $"\n{a.Process}\n{b.Process}\n{c.Process}";
        CommandResult v4 = _a.TryExec(TimeSpan.FromSeconds(20), "ping", "-n", "-c", "3", "-i", "0.2", "-w", "10", "198.19.0.3");
        Assert.True(v4.ExitCode == 0, $"a->c over b failed: {v4.StandardOutput}{summary}");
        Assert.Contains("ttl=63", v4.StandardOutput, StringComparison.Ordinal); // c answered with 64; b took one

        CommandResult back = _c.TryExec(TimeSpan.FromSeconds(20), "ping", "-n", "-c", "3", "-i", "0.2", "-w", "10", "198.19.0.1");
        Assert.True(back.ExitCode == 0, $"c->a over b failed: {back.StandardOutput}{summary}");
        Assert.Contains("ttl=63", back.StandardOutput, StringComparison.Ordinal);

        CommandResult v6 = _a.TryExec(TimeSpan.FromSeconds(20), "ping", "-6", "-n", "-c", "3", "-i", "0.2", "-w", "10", "2001:2:0:1::3");
        Assert.True(v6.ExitCode == 0, $"a->c over b (IPv6) failed: {v6.StandardOutput}{summary}");
        Assert.Contains("ttl=63", v6.StandardOutput, StringComparison.Ordinal); // iputils prints the hop limit as ttl

        // A TTL that runs out at b is answered by b, from b's own address (a traceroute's first hop).
        CommandResult dying = _a.TryExec(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "1", "-t", "1", "-w", "5", "198.19.0.3");
        Assert.Contains("From 198.19.0.2 icmp_seq=1 Time to live exceeded", dying.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_interface_forward_b_relays_nothing_between_its_peers()
    {
        (TincanNodeProcess a, TincanNodeProcess b, TincanNodeProcess c) = await StartLineAsync(forward: false);
        Assert.False(_a.Ping("198.19.0.3", count: 2, deadlineSeconds: 4), $"b relayed without Interface:Forward\n{a.Process}\n{b.Process}\n{c.Process}");
    }

    private async Task<(TincanNodeProcess A, TincanNodeProcess B, TincanNodeProcess C)> StartLineAsync(bool forward)
    {
        TincanNodeProcess a = TincanNodeProcess.Create(_a, _dir);
        TincanNodeProcess b = TincanNodeProcess.Create(_b, _dir);
        TincanNodeProcess c = TincanNodeProcess.Create(_c, _dir);

        // WireGuard-style allowed IPs: a and c reach each other's address through b, b routes each to its own link.
        await a.StartAsync(_lab, "tun", 51820, ["198.19.0.1/24", "2001:2:0:1::1/64"],
            [TincanNodeProcess.Peer("b", b.PublicKey, "198.18.0.2:51820", "198.19.0.2/32", "198.19.0.3/32", "2001:2:0:1::2/128", "2001:2:0:1::3/128")]);
        await b.StartAsync(_lab, "tun", 51820, ["198.19.0.2/24", "2001:2:0:1::2/64"],
        [
            TincanNodeProcess.Peer("a", a.PublicKey, "198.18.0.1:51820", "198.19.0.1/32", "2001:2:0:1::1/128"),
            TincanNodeProcess.Peer("c", c.PublicKey, "198.18.1.3:51820", "198.19.0.3/32", "2001:2:0:1::3/128"),
        ], forward: forward);
        await c.StartAsync(_lab, "tun", 51820, ["198.19.0.3/24", "2001:2:0:1::3/64"],
            [TincanNodeProcess.Peer("b", b.PublicKey, "198.18.1.2:51820", "198.19.0.2/32", "198.19.0.1/32", "2001:2:0:1::2/128", "2001:2:0:1::1/128")]);

        // b's kernel would drop what its TUN hands it for another host: only the overlay can carry a's pings to c.
        Assert.Equal("0", _b.Exec("sysctl", "-n", "net.ipv4.ip_forward").Trim());
        Assert.True(_a.Ping("198.19.0.2", count: 2, deadlineSeconds: 10), $"a->b failed\n{a.Process}\n{b.Process}");
        Assert.True(_c.Ping("198.19.0.2", count: 2, deadlineSeconds: 10), $"c->b failed\n{b.Process}\n{c.Process}");
        return (a, b, c);
    }
}
