using System.Buffers.Binary;
using System.Net;
using Ipop.Controllers.Negotiation;
using Ipop.Controllers.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Ipop.Controllers.Tests.SocialVpn.Ipv4Packets;

namespace Ipop.Controllers.Tests.SocialVpn;

public sealed class SocialVpnControllerTests : IAsyncDisposable
{
    private const string Bob = "bob@lab.test/ipop-1";
    private readonly FakeSignaling _signaling = new(Bob, "bob@lab.test");
    private readonly FakeTincan _tincan = new();
    private readonly FakeInterfaceFactory _nics = new();
    private readonly CancellationTokenSource _stop = new();
    private SocialVpnController? _controller;
    private Task? _run;

    private async Task StartAsync()
    {
        var options = new SocialVpnOptions { Pool = "198.19.50.0/24", EnableDns = false };
        _controller = new SocialVpnController(_signaling, _tincan, _nics, Options.Create(options), NullLogger<SocialVpnController>.Instance, new FakeTimeProvider());
        _run = _controller.RunAsync(_stop.Token);
        for (int i = 0; i < 200 && _tincan.Router is null; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.NotNull(_tincan.Router);
    }

    private static async Task Eventually(Func<bool> condition, string because)
    {
        for (int i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(condition(), because);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _run);
        }

        _stop.Dispose();
    }

    private static string AliceOffer() => new LinkNegotiationMessage(
        FakeTincan.Descriptor(new NodePublicKey(Enumerable.Repeat((byte)9, 32).ToArray()), "198.18.0.9:5000"),
        [InterfaceAddress.Parse("198.19.100.1/24")],
        null) { Assigned = InterfaceAddress.Parse("198.19.100.2/24"), Nonce = "a11ce" }.ToJson();

    [Fact]
    public async Task Owns_the_first_address_of_its_pool()
    {
        await StartAsync();
        Assert.Equal(InterfaceAddress.Parse("198.19.50.1/24"), _controller!.Address);
        Assert.Contains(InterfaceAddress.Parse("198.19.50.1/24"), Assert.Single(_nics.Created).Addresses);
    }

    [Fact]
    public async Task A_friends_packets_are_translated_into_our_view_and_ours_routed_to_it()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.Friend);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, AliceOffer());
        await Eventually(() => _tincan.Links.Count == 1 && !_signaling.Sent.IsEmpty, "no link or no answer");

        LinkNegotiationMessage answer = LinkNegotiationMessage.Parse(Assert.Single(_signaling.Sent).Message.Body);
        Assert.Equal(InterfaceAddress.Parse("198.19.50.1/24"), Assert.Single(answer.Addresses));
        FriendStatus alice = Assert.Single(_controller!.GetFriends());
        Assert.Equal("alice.ipop", alice.Name);
        Assert.Equal(alice.Address, answer.Assigned);

        // Alice (198.19.100.1 in her view) pings us (198.19.100.2 in her view).
        byte[] ping = WithChecksums(Build("198.19.100.1", "198.19.100.2", 1, IcmpEcho(new byte[16])));
        ITincanLink link = Assert.Single(_tincan.Links);
        Assert.True(_tincan.Router!.AcceptInbound(link, ping));
        Assert.Equal(alice.Address.Address, new IPAddress(ping.AsSpan(12, 4)));
        Assert.Equal(IPAddress.Parse("198.19.50.1"), new IPAddress(ping.AsSpan(16, 4)));

        // Routed to her link once it is up (on demand, a packet for a link still connecting is held until then).
        byte[] reply = WithChecksums(Build("198.19.50.1", alice.Address.Address.ToString(), 1, IcmpEcho(new byte[16])));
        _tincan.SetStatus(link.Peer, new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
        Assert.Same(link, _tincan.Router.RouteOutbound(reply).Link);

        byte[] spoofed = WithChecksums(Build("198.19.100.7", "198.19.100.2", 1, IcmpEcho(new byte[16])));
        Assert.False(_tincan.Router.AcceptInbound(link, spoofed));
    }

    [Fact]
    public async Task Non_friends_are_never_linked_and_unfriending_revokes_at_once()
    {
        await StartAsync();
        _signaling.SetPeer("carol@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember);
        _signaling.Deliver("carol@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, AliceOffer());
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.Friend);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, AliceOffer());
        await Eventually(() => _tincan.Links.Count == 1, "the friend was not linked");
        Assert.Equal("alice@lab.test/ipop-1", Assert.Single(_tincan.Links).Peer.Value);

        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.None);
        await Eventually(() => _tincan.Links.Count == 0, "unfriended peer kept its link");
        Assert.Empty(_controller!.GetFriends());
    }

    [Fact]
    public async Task Losing_signaling_keeps_friends_links_even_if_it_reports_them_offline()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.Friend);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, AliceOffer());
        await Eventually(() => _tincan.Links.Count == 1, "the friend was not linked");

        // A signaling implementation that still reports everyone offline when its session drops: not a positive signal.
        _signaling.SetConnected(false);
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Offline, PeerRelationship.Friend);
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Single(_tincan.Links);
        Assert.Empty(_tincan.Removed);

        // Back, and she is still a friend online: the link was never touched.
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.Friend);
        _signaling.SetConnected(true);
        await _controller.Negotiator.WhenIdleAsync();
        Assert.Single(_tincan.Links);
        Assert.Empty(_tincan.Removed);

        // While signaling is up, unfriending still removes the link at once.
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.None);
        await _controller.Negotiator.WhenIdleAsync();
        Assert.Empty(_tincan.Links);
    }

    [Fact]
    public async Task Friend_requests_wait_for_an_answer_and_are_passed_to_signaling()
    {
        await StartAsync();
        _signaling.RaiseFriendRequest("dave@lab.test");
        Assert.Equal(["dave@lab.test"], _controller!.PendingFriendRequests);
        await _controller.RespondToFriendRequestAsync("dave@lab.test", accept: true, TestContext.Current.CancellationToken);
        Assert.Empty(_controller.PendingFriendRequests);
    }
}
