using System.Net;
using System.Net.NetworkInformation;
using Microsoft.Extensions.Logging;
using Ipop.Controllers.Negotiation;
using Ipop.Controllers.Tests.Fakes;
using Ipop.Tincan;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Controllers.Tests.GroupVpn;

public sealed class GroupVpnControllerTests : IAsyncDisposable
{
    private const string Group = "lab@conference.lab.test";
    private const string Me = "bob@lab.test/ipop-1";
    private readonly FakeSignaling _signaling = new(Me, "bob@lab.test");
    private readonly FakeTincan _tincan = new();
    private readonly FakeInterfaceFactory _nics = new();
    private readonly FakeTimeProvider _time = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ListLogger<GroupVpnController> _log = new();
    private Task? _run;
    private GroupVpnController? _controller;

    private static NodePublicKey Key(byte b) => new(Enumerable.Repeat(b, 32).ToArray());

    private async Task StartAsync(string? address = "198.19.0.2", string mode = "tun")
    {
        var options = new GroupVpnOptions { Group = Group, Subnet = "198.19.0.0/16", Address = address, Mode = mode, Ipv6Subnet = "2001:2:0:1::/64" };
        _controller = new GroupVpnController(_signaling, _tincan, _nics, Options.Create(options), _log, _time);
        _run = _controller.RunAsync(_stop.Token);
        await Eventually(() => _tincan.Router is not null, "the controller never attached its interface");
    }

    private async Task Eventually(Func<bool> condition, string because)
    {
        for (int i = 0; i < 200; i++)
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Fail(because + "\n" + string.Join('\n', _log.Lines.Select(l => $"{l.Level}: {l.Message}")));
    }

    private static string Body(byte keySeed, params string[] addresses) => Answer(keySeed, "0ffe4", addresses);

    private static string Answer(byte keySeed, string nonce, params string[] addresses) =>
        new LinkNegotiationMessage(FakeTincan.Descriptor(Key(keySeed), $"198.18.0.{keySeed}:5000"), [.. addresses.Select(InterfaceAddress.Parse)], null) { Nonce = nonce }.ToJson();

    private string NonceOfOfferTo(string peer) =>
        LinkNegotiationMessage.Parse(_signaling.Sent.Last(s => s.To.Value == peer && s.Message.Kind == LinkNegotiationMessage.OfferKind).Message.Body).Nonce!;

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
    public async Task Creates_its_interface_with_static_ipv4_and_derived_ipv6_addresses_and_joins_the_group()
    {
        await StartAsync();
        Assert.Equal([Group], _signaling.JoinedGroups);
        FakeInterface nic = Assert.Single(_nics.Created);
        Assert.Contains(InterfaceAddress.Parse("198.19.0.2/16"), nic.Addresses);
        Assert.Contains(InterfaceAddress.Parse("2001:2:0:1::2/64"), nic.Addresses);
        Assert.IsType<RouteTable>(_tincan.Router);
    }

    [Fact]
    public async Task The_member_with_the_lower_id_offers_and_the_other_waits()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group); // "alice" < "bob": she offers
        _signaling.SetPeer("carol@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group); // "carol" > "bob": we offer
        await Eventually(() => _signaling.Sent.Count == 1, "expected exactly one offer");
        (PeerId to, OverlayMessage message) = Assert.Single(_signaling.Sent);
        Assert.Equal("carol@lab.test/ipop-1", to.Value);
        Assert.Equal(LinkNegotiationMessage.OfferKind, message.Kind);
        LinkNegotiationMessage offer = LinkNegotiationMessage.Parse(message.Body);
        Assert.Equal(_tincan.LocalKey, offer.Descriptor!.Key);
        Assert.Contains(InterfaceAddress.Parse("198.19.0.2/16"), offer.Addresses);
    }

    [Fact]
    public async Task An_offer_from_a_member_creates_the_link_routes_its_addresses_and_is_answered()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(9, "198.19.0.1/16", "2001:2:0:1::1/64"));
        await Eventually(() => _tincan.Links.Count == 1 && !_signaling.Sent.IsEmpty, "no link or no answer");
        ITincanLink link = Assert.Single(_tincan.Links);
        Assert.Equal(Key(9), link.PeerKey);
        Assert.Equal(LinkNegotiationMessage.AnswerKind, Assert.Single(_signaling.Sent).Message.Kind);

        var routes = (RouteTable)_tincan.Router!;
        Assert.Same(link, routes.Lookup(IPAddress.Parse("198.19.0.1")));
        Assert.Same(link, routes.Lookup(IPAddress.Parse("2001:2:0:1::1")));
        Assert.Equal(RouteAction.Unreachable, routes.RouteOutbound(Ipv4To("198.19.0.77")).Action);
    }

    [Fact]
    public async Task Offers_from_outside_the_group_and_malformed_offers_create_no_link()
    {
        await StartAsync();
        _signaling.SetPeer("mallory@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.None);
        _signaling.Deliver("mallory@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(6, "198.19.0.6/16"));
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, "{not json");
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, "{\"v\":7}");

        // The controller keeps serving: a valid offer after the garbage still works.
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(9, "198.19.0.1/16"));
        await Eventually(() => _tincan.Links.Count == 1, "the valid offer was not served");
        Assert.Equal("alice@lab.test/ipop-1", Assert.Single(_tincan.Links).Peer.Value);
    }

    [Fact]
    public async Task A_member_that_goes_offline_or_leaves_loses_its_link_at_once()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(9, "198.19.0.1/16"));
        await Eventually(() => _tincan.Links.Count == 1, "no link");

        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.None);
        await Eventually(() => _tincan.Links.Count == 0, "the link of a member who left the group was kept");
        Assert.Contains(new PeerId("alice@lab.test/ipop-1"), _tincan.Removed);
        Assert.Null(((RouteTable)_tincan.Router!).Lookup(IPAddress.Parse("198.19.0.1")));
    }

    [Fact]
    public async Task A_failed_link_is_offered_again_after_a_backoff()
    {
        await StartAsync();
        _signaling.SetPeer("carol@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await Eventually(() => _signaling.Sent.Count == 1, "no first offer");
        _signaling.Deliver("carol@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(8, NonceOfOfferTo("carol@lab.test/ipop-1"), "198.19.0.3/16"));
        await Eventually(() => _tincan.Links.Count == 1, "no link after the answer");

        _tincan.SetStatus(new PeerId("carol@lab.test/ipop-1"), new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.ChecksTimedOut));
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Single(_signaling.Sent);
        for (int i = 0; i < 2; i++)
        {
            // The first retry is due after LinkRetryMinSeconds (1 s) with jitter of +-25 %.
            _time.Advance(TimeSpan.FromSeconds(1));
            await _controller.Negotiator.WhenIdleAsync();
        }

        Assert.Equal(2, _signaling.Sent.Count);
        Assert.All(_signaling.Sent, s => Assert.Equal(LinkNegotiationMessage.OfferKind, s.Message.Kind));
    }

    [Fact]
    public async Task On_an_address_conflict_the_higher_id_moves_and_tells_everyone()
    {
        await StartAsync(address: null);
        FakeInterface nic = Assert.Single(_nics.Created);
        InterfaceAddress mine = nic.Addresses.First(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);

        // alice (lower id) claims our address: we must move.
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(9, mine.ToString()));
        await Eventually(() => _signaling.Sent.Any(s => s.Message.Kind == LinkNegotiationMessage.AddressKind), "no address announcement");
        Assert.DoesNotContain(mine, nic.Addresses);
        Assert.Contains(nic.Addresses, a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && a.PrefixLength == 16);
        Assert.Equal(_controller!.Addresses[0], nic.Addresses.First(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork));
    }

    [Fact]
    public async Task A_claim_for_an_address_another_member_holds_is_refused_logged_and_not_routed()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.SetPeer("aaron@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(9, "198.19.0.1/16"));
        _signaling.Deliver("aaron@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(7, "198.19.0.3/16"));
        await Eventually(() => _tincan.Links.Count == 2, "no links");
        await _controller!.Negotiator.WhenIdleAsync();
        var routes = (RouteTable)_tincan.Router!;
        Assert.True(_tincan.TryGetLink(new PeerId("alice@lab.test/ipop-1"), out ITincanLink? alice));
        Assert.True(_tincan.TryGetLink(new PeerId("aaron@lab.test/ipop-1"), out ITincanLink? aaron));

        // Aaron, a member, claims Alice's address (and ours): both refused, nothing re-routed.
        _signaling.Deliver("aaron@lab.test/ipop-1", LinkNegotiationMessage.AddressKind, new LinkNegotiationMessage(null, [InterfaceAddress.Parse("198.19.0.1/16"), InterfaceAddress.Parse("198.19.0.2/16")], null).ToJson());
        await _controller.Negotiator.WhenIdleAsync();
        Assert.Same(alice, routes.Lookup(IPAddress.Parse("198.19.0.1")));
        Assert.Null(routes.Lookup(IPAddress.Parse("198.19.0.2")));
        Assert.True(routes.AcceptInbound(alice, Ipv4From("198.19.0.1")));
        Assert.False(routes.AcceptInbound(aaron, Ipv4From("198.19.0.1")));
        Assert.False(routes.AcceptInbound(aaron, Ipv4From("198.19.0.3"))); // it gave that one up with its new claim
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("refused aaron@lab.test/ipop-1's claim of 198.19.0.1: alice@lab.test/ipop-1 holds it", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("refused aaron@lab.test/ipop-1's claim of 198.19.0.2: it is this node's address", StringComparison.Ordinal));

        // Once Alice leaves, the waiting claim is granted.
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Offline, PeerRelationship.GroupMember, Group);
        await _controller.Negotiator.WhenIdleAsync();
        Assert.Same(aaron, routes.Lookup(IPAddress.Parse("198.19.0.1")));
        Assert.True(routes.AcceptInbound(aaron, Ipv4From("198.19.0.1")));
    }

    [Fact]
    public async Task In_switch_mode_a_member_cannot_send_from_another_members_negotiated_mac()
    {
        await StartAsync(mode: "tap");
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.SetPeer("aaron@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, WithMac(9, "02-00-00-00-00-0A"));
        _signaling.Deliver("aaron@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, WithMac(7, "02-00-00-00-00-0B"));
        await Eventually(() => _tincan.Links.Count == 2, "no links");
        await _controller!.Negotiator.WhenIdleAsync();
        _tincan.SetStatus(new PeerId("alice@lab.test/ipop-1"), new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
        var sw = (LearningSwitch)_tincan.Router!;
        Assert.True(_tincan.TryGetLink(new PeerId("alice@lab.test/ipop-1"), out ITincanLink? alice));
        Assert.True(_tincan.TryGetLink(new PeerId("aaron@lab.test/ipop-1"), out ITincanLink? aaron));

        Assert.False(sw.AcceptInbound(aaron, EthernetFrom("02:00:00:00:00:0a"))); // Alice's MAC
        Assert.False(sw.AcceptInbound(aaron, EthernetFrom("02:00:00:00:00:07"))); // ours
        Assert.False(sw.AcceptInbound(aaron, EthernetFrom("02:00:00:00:00:0c"))); // not negotiated, not a bridge
        Assert.True(sw.AcceptInbound(aaron, EthernetFrom("02:00:00:00:00:0b")));
        Assert.Same(alice, sw.RouteOutbound(EthernetTo("02:00:00:00:00:0a")).Link);
        Assert.Equal(3, sw.Refused);
    }

    [Fact]
    public async Task An_answer_to_no_offer_of_ours_binds_no_key_and_the_owner_still_links()
    {
        await StartAsync();

        // We offer to mallory ("mallory" sorts after "bob"); she answers with Alice's key and a made-up nonce.
        _signaling.SetPeer("mallory@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await Eventually(() => _signaling.Sent.Count == 1, "no offer to mallory");
        _signaling.Deliver("mallory@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(9, "bad0", "198.19.0.66/16"));

        // Alice offers to us, so no answer from her is ever solicited.
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(9, "0ffe4", "198.19.0.1/16"));
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Empty(_tincan.Links);
        Assert.Equal(2, _log.Lines.Count(l => l.Level == LogLevel.Information && l.Message.Contains("refused ipop-link-answer", StringComparison.Ordinal) && l.Message.Contains("unsolicited", StringComparison.Ordinal)));

        // Alice's own offer binds her key to her.
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Body(9, "198.19.0.1/16"));
        await Eventually(() => _tincan.Links.Count == 1, "Alice's offer was refused");
        ITincanLink link = Assert.Single(_tincan.Links);
        Assert.Equal("alice@lab.test/ipop-1", link.Peer.Value);
        Assert.Equal(Key(9), link.PeerKey);
    }

    [Fact]
    public async Task A_key_bound_by_an_impostor_goes_to_its_owner_once_the_impostor_fails_to_prove_it()
    {
        await StartAsync();

        // Mallory answers our offer properly, but with Alice's public key (she cannot finish a handshake with it).
        _signaling.SetPeer("mallory@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        await Eventually(() => _signaling.Sent.Count == 1, "no offer to mallory");
        _signaling.Deliver("mallory@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(9, NonceOfOfferTo("mallory@lab.test/ipop-1"), "198.19.0.66/16"));
        await Eventually(() => _tincan.Links.Count == 1, "mallory's answer was not taken");

        // Alice's offer while Mallory's binding is young: refused, not "already authorized" forever.
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Answer(9, "a1", "198.19.0.1/16"));
        await _controller!.Negotiator.WhenIdleAsync();
        Assert.Equal("mallory@lab.test/ipop-1", Assert.Single(_tincan.Links).Peer.Value);

        // Mallory never connects; after the connect timeout Alice's next offer takes her key back.
        _time.Advance(TimeSpan.FromSeconds(46));
        await _controller.Negotiator.WhenIdleAsync();
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.OfferKind, Answer(9, "a2", "198.19.0.1/16"));
        await _controller.Negotiator.WhenIdleAsync();
        Assert.True(_tincan.TryGetLink(new PeerId("alice@lab.test/ipop-1"), out ITincanLink? alice));
        Assert.Equal(Key(9), alice.PeerKey);
        Assert.False(_tincan.TryGetLink(new PeerId("mallory@lab.test/ipop-1"), out _));
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("was bound to mallory@lab.test/ipop-1 without a handshake proving it; it now goes to alice@lab.test/ipop-1", StringComparison.Ordinal));

        // Proven, Alice keeps it: Mallory's next answer with her key is refused.
        _tincan.SetStatus(new PeerId("alice@lab.test/ipop-1"), new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None));
        _time.Advance(TimeSpan.FromSeconds(60));
        await _controller.Negotiator.WhenIdleAsync();
        string? nonce = NonceOfOfferTo("mallory@lab.test/ipop-1");
        _signaling.Deliver("mallory@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(9, nonce, "198.19.0.66/16"));
        await _controller.Negotiator.WhenIdleAsync();
        Assert.False(_tincan.TryGetLink(new PeerId("mallory@lab.test/ipop-1"), out _));
        Assert.Same(alice, _tincan.Links.Single(l => l.PeerKey == Key(9)));
        Assert.Contains(_log.Lines, l => l.Message.Contains("refused ipop-link-answer from mallory@lab.test/ipop-1: its key is bound to alice@lab.test/ipop-1, which proved it in a handshake", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refusals_are_logged_at_most_once_per_peer_per_window()
    {
        await StartAsync();
        _signaling.SetPeer("alice@lab.test/ipop-1", PeerPresence.Online, PeerRelationship.GroupMember, Group);
        for (int i = 0; i < 50; i++)
        {
            _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(9, "0ffe4", "198.19.0.1/16"));
        }

        await Eventually(() => _controller!.Negotiator.Refused == 50, "not all refused");
        Assert.Single(_log.Lines, l => l.Message.StartsWith("refused ", StringComparison.Ordinal));
        _time.Advance(TimeSpan.FromSeconds(10));
        _signaling.Deliver("alice@lab.test/ipop-1", LinkNegotiationMessage.AnswerKind, Answer(9, "0ffe4", "198.19.0.1/16"));
        await Eventually(() => _controller!.Negotiator.Refused == 51, "not refused");
        Assert.Contains(_log.Lines, l => l.Message.Contains("(49 more refusals from this peer not logged)", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_errors_name_the_key()
    {
        var bad = new GroupVpnOptions { Group = "", Subnet = "198.19.0.0/31", Mode = "bridge", Mtu = 20, BridgeName = "br0" };
        IReadOnlyList<string> errors = bad.Validate();
        Assert.Contains(errors, e => e.StartsWith("GroupVpn:Group is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GroupVpn:Subnet must be an IPv4 prefix", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GroupVpn:Mode must be 'tun' or 'tap', got 'bridge'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GroupVpn:Mtu must be between 576 and 9000, got 20", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GroupVpn:BridgeName needs GroupVpn:Mode 'tap'", StringComparison.Ordinal));
    }

    private static string WithMac(byte keySeed, string mac) =>
        new LinkNegotiationMessage(FakeTincan.Descriptor(Key(keySeed), $"198.18.0.{keySeed}:5000"), [], PhysicalAddress.Parse(mac)) { Nonce = "0ffe4" }.ToJson();

    private static byte[] EthernetFrom(string source) => Ethernet("ff:ff:ff:ff:ff:ff", source);

    private static byte[] EthernetTo(string destination) => Ethernet(destination, "02:00:00:00:00:07");

    private static byte[] Ethernet(string destination, string source)
    {
        byte[] f = new byte[60];
        Convert.FromHexString(destination.Replace(":", string.Empty, StringComparison.Ordinal)).CopyTo(f, 0);
        Convert.FromHexString(source.Replace(":", string.Empty, StringComparison.Ordinal)).CopyTo(f, 6);
        f[12] = 0x08;
        return f;
    }

    private static byte[] Ipv4From(string source)
    {
        byte[] p = new byte[20];
        p[0] = 0x45;
        IPAddress.Parse(source).TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse("198.19.0.2").TryWriteBytes(p.AsSpan(16), out _);
        return p;
    }

    private static byte[] Ipv4To(string destination)
    {
        byte[] p = new byte[20];
        p[0] = 0x45;
        IPAddress.Parse("198.19.0.2").TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse(destination).TryWriteBytes(p.AsSpan(16), out _);
        return p;
    }
}
