using System.Diagnostics;
using System.Globalization;
using System.Net.NetworkInformation;
using Ipop.Tincan;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Benchmarks;

/// <summary>
/// Not a BenchmarkDotNet benchmark: two real nodes on 127.0.0.1, one thread sealing and sending 1400-byte packets
/// as fast as it can, the other node's receive thread opening them. Prints delivered packets and Gbit/s.
/// Run: <c>dotnet run -c Release --project benchmarks/Ipop.Benchmarks -- throughput [seconds]</c>.
/// </summary>
internal static class LoopbackThroughput
{
    public static async Task RunAsync(int seconds)
    {
        await using ITincan a = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await using ITincan b = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await a.StartAsync(CancellationToken.None);
        await b.StartAsync(CancellationToken.None);
        var sink = new SinkInterface(VirtualInterfaceMode.Tun, countWrites: true);
        b.AttachInterface(sink, new AcceptAll());
        ITincanLink ab = a.CreateLink(new PeerId("b"), await b.GetLocalDescriptorAsync(CancellationToken.None));
        b.CreateLink(new PeerId("a"), await a.GetLocalDescriptorAsync(CancellationToken.None));
        var wait = Stopwatch.StartNew();
        while (ab.Status.State != LinkState.Connected && wait.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10);
        }

        var link = (TincanLink)ab;
        byte[] buffer = new byte[TincanLink.PayloadOffset + 1400 + 16];
        long sent = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            for (int i = 0; i < 1000; i++)
            {
                if (link.SendPayload(buffer, buffer.AsSpan(TincanLink.PayloadOffset, 1400), ContentKind.Packet))
                {
                    sent++;
                }
            }
        }

        double elapsed = clock.Elapsed.TotalSeconds;
        await Task.Delay(200);
        long delivered = sink.Count;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sent {sent / elapsed / 1e3:F0} kpps, delivered {delivered / elapsed / 1e3:F0} kpps = {delivered * 1400 * 8 / elapsed / 1e9:F2} Gbit/s of 1400-byte packets ({100.0 * delivered / sent:F0}% delivered)"));
    }

    private sealed class AcceptAll : IPacketRouter
    {
        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => true;
    }
}
