using System.Diagnostics.Metrics;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Exposes a node's counters through <see cref="Meter"/> "Ipop.Tincan" (OpenTelemetry semantic-convention style
/// names). Instruments are observable, so the data path only bumps its own counters.
/// </summary>
internal sealed class TincanMetrics : IDisposable
{
    public const string MeterName = TincanMeter.Name;

    private readonly Meter _meter;

    public TincanMetrics(LinkManager manager)
    {
        _meter = new Meter(MeterName);
        _meter.CreateObservableCounter("ipop.tincan.packets", () => Measure(manager, static s => s.PacketsSent, static s => s.PacketsReceived), "{packet}", "Data packets sent and received over links");
        _meter.CreateObservableCounter("ipop.tincan.bytes", () => Measure(manager, static s => s.BytesSent, static s => s.BytesReceived), "By", "Payload bytes sent and received over links");
        _meter.CreateObservableCounter("ipop.tincan.forwarded", () => Forwarded(manager), "{packet}", "Packets that arrived on one link and were forwarded over another (overlay forwarding), per next-hop peer");
        _meter.CreateObservableCounter("ipop.tincan.forwarded.bytes", () => Sum(manager, static s => s.BytesForwarded), "By", "Payload bytes forwarded between links");
        _meter.CreateObservableCounter("ipop.tincan.handshakes", () => Sum(manager, static s => s.Handshakes), "{handshake}", "Completed handshakes");
        _meter.CreateObservableCounter("ipop.tincan.drops", () => Drops(manager), "{datagram}", "Dropped datagrams and packets by reason");
        _meter.CreateObservableCounter("ipop.tincan.link.drops", () => LinkDrops(manager), "{packet}", "Packets dropped per link by reason: spoofed (source address or MAC the peer does not own), replayed, unauthenticated");
        _meter.CreateObservableGauge("ipop.tincan.links", () => manager.LinkSnapshot.Count, "{link}", "Links in any state");
    }

    public void Dispose() => _meter.Dispose();

    private static Measurement<long>[] Measure(LinkManager manager, Func<LinkStats, long> sent, Func<LinkStats, long> received)
    {
        long tx = 0;
        long rx = 0;
        foreach (TincanLink link in manager.LinkSnapshot)
        {
            LinkStats stats = link.GetStats();
            tx += sent(stats);
            rx += received(stats);
        }

        return
        [
            new Measurement<long>(tx, new KeyValuePair<string, object?>("direction", "transmit")),
            new Measurement<long>(rx, new KeyValuePair<string, object?>("direction", "receive")),
        ];
    }

    private static long Sum(LinkManager manager, Func<LinkStats, long> value)
    {
        long total = 0;
        foreach (TincanLink link in manager.LinkSnapshot)
        {
            total += value(link.GetStats());
        }

        return total;
    }

    private static IEnumerable<Measurement<long>> LinkDrops(LinkManager manager)
    {
        foreach (TincanLink link in manager.LinkSnapshot)
        {
            LinkStats stats = link.GetStats();
            var peer = new KeyValuePair<string, object?>("peer", link.Peer.Value);
            yield return new Measurement<long>(stats.DroppedSpoofed, peer, new KeyValuePair<string, object?>("reason", "spoofed"));
            yield return new Measurement<long>(stats.DroppedReplayed, peer, new KeyValuePair<string, object?>("reason", "replayed"));
            yield return new Measurement<long>(stats.DroppedUnauthenticated, peer, new KeyValuePair<string, object?>("reason", "unauthenticated"));
        }
    }

    private static IEnumerable<Measurement<long>> Forwarded(LinkManager manager)
    {
        foreach (TincanLink link in manager.LinkSnapshot)
        {
            yield return new Measurement<long>(link.GetStats().PacketsForwarded, new KeyValuePair<string, object?>("peer", link.Peer.Value));
        }
    }

    private static IEnumerable<Measurement<long>> Drops(LinkManager manager)
    {
        foreach (DropReason reason in Enum.GetValues<DropReason>())
        {
            yield return new Measurement<long>(manager.Drops.Get(reason), new KeyValuePair<string, object?>("reason", reason.ToString()));
        }
    }
}
