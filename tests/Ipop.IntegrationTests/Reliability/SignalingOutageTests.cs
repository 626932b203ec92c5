using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 11, control-plane independence: the XMPP server is the control plane, not the data plane. A 30 s prosody
/// outage (SIGKILL, then a restart) while members ping each other every 0.1 s, over a direct link across a cone NAT
/// and over a relayed link (symmetric NAT), must lose no ping.
/// </summary>
public sealed partial class SignalingOutageTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private readonly GroupLab _group = new(lab, "out");

    public void Dispose() => _group.Dispose();

    [Fact]
    public async Task A_30_second_xmpp_outage_loses_no_ping_on_direct_or_relayed_links()
    {
        string group = _group.NewGroup();
        await _group.AddMembersAsync("oown", group, ["opub", "ocone", "osym"]);
        ProductNode pub = await _group.NodeAsync("opub", "public", group, "198.19.0.1");
        ProductNode cone = await _group.NodeAsync("ocone", "cone", group, "198.19.0.2");
        ProductNode sym = await _group.NodeAsync("osym", "sym", group, "198.19.0.3");
        ProductNode[] all = [pub, cone, sym];
        foreach (ProductNode n in all)
        {
            await n.StartAsync("GroupVPN");
        }

        Assert.True(await _group.ConvergeAsync(all, TimeSpan.FromSeconds(60)) is not null, _group.Diagnose());
        string conePath = (await GroupLab.PeersAsync(cone)).Single(p => p.Peer.StartsWith("opub@", StringComparison.Ordinal)).Path;
        string relayPath = (await GroupLab.PeersAsync(sym)).Single(p => p.Peer.StartsWith("ocone@", StringComparison.Ordinal)).Path;
        output.WriteLine($"cone -> pub: {conePath}; sym -> cone: {relayPath}");
        Assert.StartsWith("Direct", conePath, StringComparison.Ordinal);
        Assert.Equal("Relayed", relayPath);

        // 45 s of pings at 0.1 s (450 each): 3 s before the outage, 30 s of outage, 12 s after the restart.
        const int Count = 450;
        using LabProcess direct = lab.Lab.Start(cone.Namespace, "ping", ["-4", "-n", "-i", "0.1", "-W", "2", "-c", Count.ToString(CultureInfo.InvariantCulture), "198.19.0.1"]);
        using LabProcess relayed = lab.Lab.Start(sym.Namespace, "ping", ["-4", "-n", "-i", "0.1", "-W", "2", "-c", Count.ToString(CultureInfo.InvariantCulture), "198.19.0.2"]);
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        var outage = Stopwatch.StartNew();
        await lab.Xmpp.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await lab.Xmpp.StartAgainAsync(TestContext.Current.CancellationToken);
        output.WriteLine($"prosody down for {outage.Elapsed.TotalSeconds:F1} s");

        Assert.True(direct.WaitForExit(TimeSpan.FromSeconds(30)) && relayed.WaitForExit(TimeSpan.FromSeconds(30)), "ping did not finish");
        (int sentDirect, int lostDirect) = Loss(direct.Output);
        (int sentRelayed, int lostRelayed) = Loss(relayed.Output);
        output.WriteLine($"direct (cone -> public): {lostDirect} of {sentDirect} lost; relayed (symmetric -> cone): {lostRelayed} of {sentRelayed} lost");

        // Every node got back into XMPP by itself, and none removed a link on the way.
        foreach (ProductNode n in all)
        {
            Assert.True(await n.Process!.WaitForOutputAsync("XMPP session back", TimeSpan.FromSeconds(30)), $"{n.Namespace.Role} did not reconnect:\n{_group.Diagnose()}");
            Assert.DoesNotContain("link removed", n.Process.Output, StringComparison.Ordinal);
        }

        Assert.Equal(Count, sentDirect);
        Assert.Equal(Count, sentRelayed);
        Assert.True(lostDirect == 0 && lostRelayed == 0, $"lost {lostDirect} direct and {lostRelayed} relayed pings\n{_group.Diagnose()}");

        // After the outage the control plane works again: a link torn down now is negotiated anew.
        Assert.True(cone.Namespace.Ping("198.19.0.3", count: 3, deadlineSeconds: 5), _group.Diagnose());
    }

    private static (int Sent, int Lost) Loss(string pingOutput)
    {
        Match m = Summary().Match(pingOutput);
        Assert.True(m.Success, pingOutput);
        int sent = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return (sent, sent - int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex Summary();
}
