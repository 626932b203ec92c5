using Ipop.Tincan.Tests.DataPlane;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.DataPlane.Roaming;

/// <summary>What a node does when its underlay moved (the address monitor's debounced report, called directly here).</summary>
public sealed class UnderlayChangeTests
{
    [Fact]
    public async Task A_moved_node_handshakes_again_at_once_keeps_its_link_and_tells_the_controller()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        long handshakes = a.LinkTo(b).GetStats().Handshakes;
        int raised = 0;
        a.Tincan.LocalCandidatesChanged += (_, _) => Interlocked.Increment(ref raised);

        a.Manager.OnUnderlayChanged();

        // A new handshake now, not at the next rekey (two minutes away): it confirms a path from the new address.
        await TestNode.WaitUntilAsync(() => a.LinkTo(b).GetStats().Handshakes > handshakes, "a handshake after the move");
        await TestNode.WaitUntilAsync(() => Volatile.Read(ref raised) == 1, "LocalCandidatesChanged raised");
        Assert.Equal(LinkState.Connected, a.LinkTo(b).Status.State);
        Assert.Equal(LinkState.Connected, b.LinkTo(a).Status.State);
        Assert.Equal(1, a.Manager.UnderlayChanges);

        // The session still carries traffic.
        Assert.True(a.LinkTo(b).TrySend(TestNode.Packet(b, 1)));
        await TestNode.WaitUntilAsync(() => b.Nic.WrittenCount > 0, "a packet through the link after the move");
    }

    [Fact]
    public async Task A_network_check_after_a_signaling_reset_handshakes_at_once_and_stays_quiet_if_nothing_changed()
    {
        // After a signaling reset (a NAT's public address may have changed under an idle node): links announce
        // themselves at once, so a peer follows the new public address; with no STUN server configured the public
        // address cannot have changed, so the controller is not asked to send a new descriptor.
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        long handshakes = a.LinkTo(b).GetStats().Handshakes;
        int raised = 0;
        a.Tincan.LocalCandidatesChanged += (_, _) => Interlocked.Increment(ref raised);

        a.Tincan.CheckNetworkNow();

        await TestNode.WaitUntilAsync(() => a.LinkTo(b).GetStats().Handshakes > handshakes, "a handshake after the network check");
        Assert.Equal(LinkState.Connected, a.LinkTo(b).Status.State);
        Assert.Equal(LinkState.Connected, b.LinkTo(a).Status.State);
        Assert.Equal(0, Volatile.Read(ref raised));
        Assert.Equal(0, a.Manager.UnderlayChanges);
        Assert.True(a.LinkTo(b).TrySend(TestNode.Packet(b, 1)));
        await TestNode.WaitUntilAsync(() => b.Nic.WrittenCount > 0, "a packet through the link after the check");
    }

    [Fact]
    public async Task New_candidates_while_an_initiation_is_out_to_the_old_ones_get_a_fresh_initiation_at_once()
    {
        // Both sides renumbered at once (the lab's RoamingSignalingTests): A's handshake after the move goes to B's old
        // address and is lost; B's new candidates arrive through signaling while that initiation waits for its retry.
        // The clock stands still here, so no retry can happen: only an initiation sent when the candidates are
        // replaced reaches B's new address.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        await using TestNode a = await TestNode.StartAsync("A", time);
        await using TestNode b = await TestNode.StartAsync("B", time);
        using var oldAddress = new UdpRelay(b.Manager.Mux!.LocalEndPoint);
        using var newAddress = new UdpRelay(b.Manager.Mux!.LocalEndPoint);
        using var aOldAddress = new UdpRelay(a.Manager.Mux!.LocalEndPoint);
        a.Tincan.CreateLink(b.Id, await b.DescriptorViaAsync(oldAddress.EndPoint));
        b.Tincan.CreateLink(a.Id, await a.DescriptorViaAsync(aOldAddress.EndPoint));
        await TestNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected && b.LinkTo(a).Status.State == LinkState.Connected, "A<->B connected through the old address");
        long handshakes = a.LinkTo(b).GetStats().Handshakes;

        // Every way between the old addresses is gone (for handshakes, which is what a renumbering loses here).
        oldAddress.InitiationsToLose = int.MaxValue / 2;
        aOldAddress.InitiationsToLose = int.MaxValue / 2;
        a.Manager.OnUnderlayChanged();
        await TestNode.WaitUntilAsync(() => Volatile.Read(ref oldAddress.InitiationsLost) + Volatile.Read(ref aOldAddress.InitiationsLost) >= 1, "A's initiation after the move, lost at B's old address");

        a.Tincan.CreateLink(b.Id, await b.DescriptorViaAsync(newAddress.EndPoint));

        await TestNode.WaitUntilAsync(() => a.LinkTo(b).GetStats().Handshakes > handshakes, "a handshake through B's new address with the clock standing still");
        Assert.True(Volatile.Read(ref newAddress.InitiationsSeen) >= 1, $"new: {newAddress.InitiationsSeen} seen; old: {oldAddress.InitiationsSeen} seen, {oldAddress.InitiationsLost} lost; A: {a.LinkTo(b).GetStats()}; B: {b.LinkTo(a).GetStats()}");
        Assert.True(a.LinkTo(b).TrySend(TestNode.Packet(b, 1)));
        await TestNode.WaitUntilAsync(() => b.Nic.WrittenCount > 0, "a packet through the new address");
    }
}
