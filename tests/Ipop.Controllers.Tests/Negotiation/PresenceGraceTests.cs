using Ipop.Controllers.Negotiation;
using Ipop.Controllers.Tests.Fakes;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Controllers.Tests.Negotiation;

/// <summary>
/// A short presence flap (the peer's signaling session ended, as a moving network resets it, and it logs in again)
/// keeps a Connected link; a removal (kick, ban, revoked membership: signaling does not say "session ended") and a
/// flap over a link that is not Connected end it at once, and so does an absence longer than the grace.
/// </summary>
public sealed class PresenceGraceTests : IAsyncDisposable
{
    private const string Group = "lab@conference.lab.test";
    private const string Alice = "alice@lab.test/ipop-1"; // "alice" < "bob": she offers
    private readonly FakeSignaling _signaling = new("bob@lab.test/ipop-1", "bob@lab.test");
    private readonly FakeTincan _tincan = new();
    private readonly FakeTimeProvider _time = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ListLogger<GroupVpnController> _log = new();
    private Task? _run;
    private GroupVpnController? _controller;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _run);
        }

        _stop.Dispose();
    }

    [Fact]
    public async Task A_connected_member_whose_session_ends_and_returns_keeps_its_link()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        await SecondsAsync(5);
        Assert.Single(_tincan.Links);
        Assert.Empty(_tincan.Removed);

        _signaling.SetPeer(Alice, PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await SecondsAsync(30); // well past the grace: the peer is back, nothing ends
        Assert.Single(_tincan.Links);
        Assert.Empty(_tincan.Removed);
        Assert.Contains(_log.Lines, l => l.Message.Contains("is back after", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_member_not_back_within_the_grace_loses_its_link()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        await SecondsAsync(14);
        Assert.Single(_tincan.Links);
        await SecondsAsync(2);
        Assert.Empty(_tincan.Links);
        Assert.Contains(new PeerId(Alice), _tincan.Removed);
    }

    [Fact]
    public async Task A_removed_member_loses_its_connected_link_at_once()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: false, PeerPresence.Offline, PeerRelationship.None); // kicked, banned, revoked
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Empty(_tincan.Links);
        Assert.Contains(new PeerId(Alice), _tincan.Removed);
    }

    [Fact]
    public async Task A_session_ending_over_a_link_that_is_not_connected_ends_it_at_once()
    {
        await LinkedAsync(LinkState.Connecting);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Empty(_tincan.Links);
    }

    [Fact]
    public async Task A_kept_link_that_fails_during_the_grace_ends_then()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        await SecondsAsync(2);
        _tincan.SetStatus(new PeerId(Alice), new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.PeerUnreachable));
        await SecondsAsync(2);
        Assert.Empty(_tincan.Links);
    }

    [Fact]
    public async Task A_member_that_restarts_under_a_new_resource_with_the_same_key_gets_its_link_at_once()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None); // killed
        const string restarted = "alice@lab.test/ipop-2";
        _signaling.SetPeer(restarted, PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver(restarted, LinkNegotiationMessage.OfferKind, Offer("0ffe5").ToJson());
        await SecondsAsync(1);
        Assert.Contains(new PeerId(Alice), _tincan.Removed);
        Assert.Equal(new PeerId(restarted), Assert.Single(_tincan.Links).Peer);
        Assert.DoesNotContain(_log.Lines, l => l.Message.Contains("its key is bound to", StringComparison.Ordinal));
        Assert.DoesNotContain(_log.Lines, l => l.Message.Contains("refused alice@lab.test/ipop-2's claim", StringComparison.Ordinal)); // the old session's address is released
        Assert.Contains(_log.Lines, l => l.Message.Contains("replaced by its restarted session alice@lab.test/ipop-2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_new_session_of_an_away_members_account_ends_the_old_one_at_once_even_before_it_offers()
    {
        // In a structured group the restarted member hashes to a new ring position and may never link to us again,
        // yet we held its old session (and with it the address the new one claims) for the whole grace.
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None); // killed
        await SecondsAsync(1);
        Assert.Empty(_tincan.Removed);
        _signaling.SetPeer("alice@lab.test/ipop-2", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Contains(new PeerId(Alice), _tincan.Removed);
        Assert.Contains(_log.Lines, l => l.Message.Contains("replaced by its restarted session alice@lab.test/ipop-2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_session_that_ends_after_its_account_came_back_under_a_new_resource_gets_no_grace()
    {
        // The server may notice a crashed session only after the restarted one has logged in.
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer("alice@lab.test/ipop-2", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Empty(_tincan.Removed);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        await _controller.Negotiator.WhenIdleAsync();
        Assert.Contains(new PeerId(Alice), _tincan.Removed);
        Assert.DoesNotContain(_log.Lines, l => l.Message.Contains("its connected link stays", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_account_coming_online_leaves_an_away_member_its_grace()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        _signaling.SetPeer("alicia@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await SecondsAsync(5);
        Assert.DoesNotContain(new PeerId(Alice), _tincan.Removed);
        Assert.Contains(_tincan.Links, l => l.Peer == new PeerId(Alice));
    }

    [Fact]
    public async Task Another_account_with_the_key_of_an_away_member_is_still_refused()
    {
        await LinkedAsync(LinkState.Connected);
        _signaling.SetPeer(Alice, sessionEnded: true, PeerPresence.Offline, PeerRelationship.None);
        const string other = "adam@lab.test/ipop-1";
        _signaling.SetPeer(other, PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver(other, LinkNegotiationMessage.OfferKind, Offer("0ffe6").ToJson());
        await SecondsAsync(1);
        Assert.Equal(new PeerId(Alice), Assert.Single(_tincan.Links).Peer);
        Assert.Contains(_log.Lines, l => l.Message.Contains("its key is bound to alice@lab.test/ipop-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_signaling_reconnect_asks_tincan_to_check_the_network()
    {
        await LinkedAsync(LinkState.Connected);
        Assert.Equal(0, _tincan.NetworkChecks);
        _signaling.SetConnected(false);
        _signaling.SetConnected(true);
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Equal(1, _tincan.NetworkChecks);
        Assert.Single(_tincan.Links);
    }

    private async Task LinkedAsync(LinkState state)
    {
        var options = new GroupVpnOptions { Group = Group, Subnet = "198.19.0.0/16", Address = "198.19.0.2", Mode = "tun" };
        _controller = new GroupVpnController(_signaling, _tincan, new FakeInterfaceFactory(), Options.Create(options), _log, _time);
        _run = _controller.RunAsync(_stop.Token);
        for (int i = 0; i < 200 && _tincan.Router is null; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        _signaling.SetPeer(Alice, PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver(Alice, LinkNegotiationMessage.OfferKind, Offer("0ffe4").ToJson());
        for (int i = 0; i < 200 && _tincan.Links.Count == 0; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Single(_tincan.Links);
        if (state != LinkState.Connecting)
        {
            _tincan.SetStatus(new PeerId(Alice), new LinkStatus(state, LinkPath.DirectHost, LinkFailureReason.None));
        }

        await _controller.Negotiator.WhenIdleAsync();
    }

    // Alice's key (every session of hers presents it).
    private static LinkNegotiationMessage Offer(string nonce) =>
        new(FakeTincan.Descriptor(new NodePublicKey(Enumerable.Repeat((byte)9, 32).ToArray()), "198.18.0.9:5000"), [InterfaceAddress.Parse("198.19.0.1/16")], null) { Nonce = nonce };

    private async Task SecondsAsync(int seconds)
    {
        for (int s = 0; s < seconds; s++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await _controller!.Negotiator.WhenIdleAsync();
        }
    }
}
