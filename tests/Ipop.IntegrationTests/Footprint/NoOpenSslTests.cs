using System.Globalization;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.IntegrationTests.Nat;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Footprint;

/// <summary>
/// Issue 14's idle-memory target: an <c>ipop-tincan</c> node never loads OpenSSL. .NET's SHA256, HMAC, HKDF and
/// RandomNumberGenerator map libssl and libcrypto on Linux (~3.7 MiB resident in an idle node); the node computes them
/// with libsodium (already loaded for X25519 and ChaCha20-Poly1305) and SHA-1/MD5 managed. Checked on
/// <c>/proc/PID/maps</c> after the link is up, once with static peers and once with a link that used everything the
/// control path has: STUN, TURN with long-term credentials (MD5 key, HMAC-SHA-1 integrity), ICE checks (HKDF keys)
/// and netcheck.
/// </summary>
public sealed class NoOpenSslTests(NatLabFixture lab, ITestOutputHelper output) : IClassFixture<NatLabFixture>, IAsyncDisposable
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
    public async Task Static_peer_pair_maps_no_openssl_once_the_link_is_up()
    {
        using var staticLab = new NetworkLab();
        string dir = Directory.CreateTempSubdirectory("ipop-nossl-").FullName;
        try
        {
            LabNamespace nsA = staticLab.AddNamespace("a");
            LabNamespace nsB = staticLab.AddNamespace("b");
            staticLab.ConnectDirect(nsA, "eth0", "198.18.0.1/24", nsB, "eth0", "198.18.0.2/24");
            TincanNodeProcess a = TincanNodeProcess.Create(nsA, dir);
            TincanNodeProcess b = TincanNodeProcess.Create(nsB, dir);
            await a.StartAsync(staticLab, "tun", 51820, ["198.19.0.1/24"], [TincanNodeProcess.Peer("b", b.PublicKey, "198.18.0.2:51820", "198.19.0.2/32")]);
            await b.StartAsync(staticLab, "tun", 51820, ["198.19.0.2/24"], [TincanNodeProcess.Peer("a", a.PublicKey, "198.18.0.1:51820", "198.19.0.1/32")]);
            Assert.True(nsA.Ping("198.19.0.2", count: 3, deadlineSeconds: 10), $"{a.Process}\n{b.Process}");
            Assert.True(await a.Process!.WaitForOutputAsync("link b: Connected", TimeSpan.FromSeconds(10)), a.Process.Output);

            AssertNoOpenSsl(a.Process, "a");
            AssertNoOpenSsl(b.Process!, "b");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Relayed_pair_through_turn_maps_no_openssl_after_stun_turn_ice_and_netcheck()
    {
        // Two symmetric NATs: only the TURN relay carries the link (allocation, permissions, checks over it).
        (ApiNode a, ApiNode b) = await ApiNodePair.LinkAsync(lab, lab.Symmetric1, lab.Symmetric2, "nossl", _nodes, TimeSpan.FromSeconds(30), Ct);
        CommandResult netcheck = Cmd.TryRun(TimeSpan.FromSeconds(60), Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("netcheck", "--timeout", "2", "--socket", a.StatusSocket));
        output.WriteLine(netcheck.StandardOutput + netcheck.StandardError);

        AssertNoOpenSsl(a.Process, "a");
        AssertNoOpenSsl(b.Process, "b");
    }

    private void AssertNoOpenSsl(LabProcess process, string name)
    {
        Assert.False(process.HasExited, $"{name} exited:\n{process.Output}");
        string[] maps = File.ReadAllLines($"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/maps");
        string[] openSsl = [.. maps.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && (f[5].Contains("libssl", StringComparison.Ordinal) || f[5].Contains("libcrypto", StringComparison.Ordinal)))
            .Select(f => f[5]).Distinct()];
        string rss = File.ReadAllLines($"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)) ?? "VmRSS: ?";
        output.WriteLine($"{name} ({Artifacts.TincanHost}): {rss.Replace('\t', ' ')}; OpenSSL mapped: {(openSsl.Length == 0 ? "none" : string.Join(", ", openSsl))}");

        // The lab must be able to see a mapped library at all, or the assertion below could never fail.
        Assert.Contains(maps, l => l.Contains("libsodium", StringComparison.Ordinal));
        Assert.True(openSsl.Length == 0, $"{name} mapped OpenSSL: {string.Join(", ", openSsl)}");
    }
}
