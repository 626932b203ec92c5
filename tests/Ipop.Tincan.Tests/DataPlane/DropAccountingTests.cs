using System.Diagnostics.Metrics;
using System.Net;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Tests.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// Issue 11: a packet dropped for what it claims (spoofed source, replay, forgery) is counted on its link by reason,
/// shown in <see cref="LinkStats"/> and in the <c>Ipop.Tincan</c> meter; a refused handshake is logged at Information.
/// </summary>
public sealed class DropAccountingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Packets_from_a_peer_with_a_source_it_does_not_own_are_counted_on_its_link_and_in_the_meter()
    {
        await using TestNode a = await TestNode.StartAsync("S");
        await using TestNode b = await TestNode.StartAsync("T");
        await TestNode.ConnectAsync(a, b);

        // b's router owns the decision (RouteTable refuses a source outside the peer's prefixes); this one refuses all.
        Assert.True(await b.Tincan.DetachInterfaceAsync(Ct));
        using var nic = new FakeNic("T2");
        b.Tincan.AttachInterface(nic, new RefusingRouter());
        for (int i = 0; i < 5; i++)
        {
            a.Nic.Inject(TestNode.Packet(b, i));
        }

        await TestNode.WaitUntilAsync(() => b.LinkTo(a).GetStats().DroppedSpoofed == 5, "5 spoofed packets counted on the link");
        LinkStats stats = b.LinkTo(a).GetStats();
        Assert.Equal(5, stats.PacketsDropped);
        Assert.Equal((0, 0), (stats.DroppedReplayed, stats.DroppedUnauthenticated));
        Assert.Equal(5, b.Manager.Drops.Get(DropReason.SpoofedSource));
        Assert.Equal(0, nic.WrittenCount);

        var seen = new List<(string Peer, string Reason, long Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TincanMeter.Name && instrument.Name == "ipop.tincan.link.drops")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? peer = null;
            string? reason = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                peer = tag.Key == "peer" ? tag.Value as string : peer;
                reason = tag.Key == "reason" ? tag.Value as string : reason;
            }

            lock (seen)
            {
                seen.Add((peer ?? "?", reason ?? "?", value));
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Contains(("S", "spoofed", 5L), seen);
        Assert.Contains(("S", "replayed", 0L), seen);
    }

    [Fact]
    public async Task A_handshake_from_a_key_no_link_authorizes_is_logged_at_information_with_the_key()
    {
        var log = new TestLogger();
        ITincan refusing = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" }, new SingleLoggerFactory(log));
        await refusing.StartAsync(Ct);
        await using TestNode stranger = await TestNode.StartAsync("X");
        try
        {
            // The stranger knows the node's key and address; the node has no link for the stranger's key.
            LinkDescriptor target = await refusing.GetLocalDescriptorAsync(Ct);
            stranger.Tincan.CreateLink(new PeerId("victim"), target);
            await TestNode.WaitUntilAsync(() => log.Contains("Refused a handshake"), "the refusal is logged");
            (LogLevel level, string message) = log.Entries.First(e => e.Message.Contains("Refused a handshake", StringComparison.Ordinal));
            Assert.Equal(LogLevel.Information, level);
            Assert.Contains($"key {stranger.Tincan.LocalKey} is not authorized for any link", message, StringComparison.Ordinal);
            Assert.Contains(stranger.Manager.Mux!.LocalEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), message, StringComparison.Ordinal);

            // Rate-limited: the stranger retries, the log does not grow with it.
            await TestNode.WaitUntilAsync(() => ((LinkManager)refusing).Drops.Get(DropReason.UnknownKey) >= 2, "a retry refused too", TimeSpan.FromSeconds(15));
            Assert.Single(log.Messages, m => m.Contains("Refused a handshake", StringComparison.Ordinal));
        }
        finally
        {
            await refusing.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_handshake_made_for_another_key_than_ours_is_logged_at_information()
    {
        var log = new TestLogger();
        ITincan refusing = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" }, new SingleLoggerFactory(log));
        await refusing.StartAsync(Ct);
        await using TestNode confused = await TestNode.StartAsync("Y");
        await using TestNode other = await TestNode.StartAsync("Z");
        try
        {
            // The sender has our address but someone else's key for us: its mac1 cannot match.
            LinkDescriptor real = await refusing.GetLocalDescriptorAsync(Ct);
            confused.Tincan.CreateLink(new PeerId("victim"), real with { Key = other.Tincan.LocalKey });
            await TestNode.WaitUntilAsync(() => log.Contains("Refused a handshake"), "the refusal is logged");
            (LogLevel level, string message) = log.Entries.First(e => e.Message.Contains("Refused a handshake", StringComparison.Ordinal));
            Assert.Equal(LogLevel.Information, level);
            Assert.Contains("addressed to another public key than this node's", message, StringComparison.Ordinal);
        }
        finally
        {
            await refusing.DisposeAsync();
        }
    }

    private sealed class RefusingRouter : IPacketRouter
    {
        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;
    }

    private sealed class SingleLoggerFactory(TestLogger logger) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => logger;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}
