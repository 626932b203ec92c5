using Ipop.Lab.Servers;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Tests.NatTraversal;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

/// <summary>Path MTU probes cross a real coturn: a relayed link is measured through the relay, with its overhead.</summary>
public sealed class PathMtuRelayTests
{
    [Fact]
    public async Task A_relayed_link_probes_through_the_relay_and_confirms_the_whole_size_with_the_channel_overhead()
    {
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancel.CancelAfter(TimeSpan.FromSeconds(20));
        using CoturnServer coturn = await CoturnServer.StartAsync(cancellationToken: cancel.Token);
        Action<TincanOptions> with = o =>
        {
            o.StunServers.Add(new StunServerOptions { Host = coturn.EndPoint.Address.ToString(), Port = coturn.EndPoint.Port });
            o.TurnServers.Add(NatNode.Turn(coturn));
        };
        await using NatNode a = await NatNode.StartAsync("A", with);
        await using NatNode b = await NatNode.StartAsync("B", with);
        LinkDescriptor relayOfA = await a.DescriptorWithOnlyAsync(CandidateType.Relayed);
        LinkDescriptor relayOfB = await b.DescriptorWithOnlyAsync(CandidateType.Relayed);
        a.Tincan.CreateLink(b.Id, relayOfB);
        b.Tincan.CreateLink(a.Id, relayOfA);
        await NatNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected && b.LinkTo(a).Status.State == LinkState.Connected, "relayed link connected");
        Assert.Equal(LinkPath.Relayed, a.LinkTo(b).Status.Path);

        // Loopback carries everything, so the largest probe (the tunnel MTU plus the frame allowance) comes back.
        int max = a.Manager.MaxPayload;
        await NatNode.WaitUntilAsync(() => a.LinkTo(b).EffectiveMtu == max && b.LinkTo(a).EffectiveMtu == max, () => string.Join("\n", a.Logger.Messages), TimeSpan.FromSeconds(10));

        // The log line counts what the path adds: IPv4 and UDP headers, the transport header and tag, and on our own
        // allocation's path the 4-byte ChannelData header.
        await NatNode.WaitUntilAsync(() => a.Logger.Contains("path MTU"), () => string.Join("\n", a.Logger.Messages));
        string line = a.Logger.Messages.First(m => m.Contains("path MTU", StringComparison.Ordinal));
        Assert.Contains($"inner packets up to {max} bytes", line, StringComparison.Ordinal);
        Assert.True(
            line.Contains($"path MTU {max + 64} bytes on the underlay (Relayed)", StringComparison.Ordinal)
            || line.Contains($"path MTU {max + 60} bytes on the underlay (Relayed)", StringComparison.Ordinal),
            line);
    }
}
