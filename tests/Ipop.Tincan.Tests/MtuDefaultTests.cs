using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;
using Ipop.Tincan.Tests.DataPlane;

namespace Ipop.Tincan.Tests;

/// <summary>
/// Issue 15: one MTU default everywhere (<see cref="VirtualInterfaceOptions.DefaultMtu"/>), chosen from the data path,
/// and an interface whose MTU the links cannot carry is refused when it is attached.
/// </summary>
public sealed class MtuDefaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void The_interface_and_the_links_share_one_default()
    {
        Assert.Equal(1400, VirtualInterfaceOptions.DefaultMtu);
        Assert.Equal(VirtualInterfaceOptions.DefaultMtu, new VirtualInterfaceOptions().Mtu);
        Assert.Equal(VirtualInterfaceOptions.DefaultMtu, new TincanOptions().Mtu);
    }

    [Theory]
    [InlineData(40)] // IPv6
    [InlineData(20)] // IPv4
    public void The_largest_datagram_a_link_sends_at_the_default_fits_a_1500_byte_underlay(int ipHeader)
    {
        // What a link accepts (the MTU plus a TAP frame's Ethernet header and one VLAN tag), sealed, in UDP over IP.
        int largest = VirtualInterfaceOptions.DefaultMtu + LinkManager.FrameAllowance + TransportHeader.Length + TransportCipher.TagLength + 8 + ipHeader;
        Assert.InRange(largest, 0, 1500);
    }

    [Fact]
    public async Task An_interface_with_a_larger_mtu_than_the_links_is_refused_at_attach_naming_both()
    {
        await using ITincan tincan = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
        await tincan.StartAsync(Ct);
        using var big = new FakeNic("big0") { Mtu = 1500 };

        var e = Assert.Throws<InvalidOperationException>(() => tincan.AttachInterface(big, new TestRouter(tincan)));

        Assert.Equal(
            "Interface 'big0' has MTU 1500, more than the 1400 its links carry (Tincan:Mtu): larger packets would be dropped. " +
            "Give the interface an MTU of at most 1400 (VirtualInterfaceOptions.Mtu) or raise Tincan:Mtu; both default to 1400.",
            e.Message);
        Assert.Equal(0, big.ActiveReads);

        // The same interface fits a node whose links carry as much.
        await using ITincan jumbo = TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1", Mtu = 1500 });
        await jumbo.StartAsync(Ct);
        jumbo.AttachInterface(big, new TestRouter(jumbo));
    }

    [Fact]
    public async Task At_the_defaults_a_full_size_tap_frame_with_a_vlan_tag_crosses_a_link()
    {
        await using TestNode a = await TestNode.StartAsync("A");
        await using TestNode b = await TestNode.StartAsync("B");
        await TestNode.ConnectAsync(a, b);
        using var tapA = new FakeNic("tapA") { Mode = VirtualInterfaceMode.Tap };
        using var tapB = new FakeNic("tapB") { Mode = VirtualInterfaceMode.Tap };
        Assert.True(await a.Tincan.DetachInterfaceAsync(Ct));
        Assert.True(await b.Tincan.DetachInterfaceAsync(Ct));
        a.Tincan.AttachInterface(tapA, new TestRouter(a.Tincan));
        b.Tincan.AttachInterface(tapB, new TestRouter(b.Tincan));

        // The test router reads byte 0 (here the destination MAC's first byte) as the destination node.
        foreach (int length in new[] { VirtualInterfaceOptions.DefaultMtu + 14, VirtualInterfaceOptions.DefaultMtu + 18 })
        {
            byte[] frame = TestNode.Packet(b, length, length);
            tapA.Inject(frame);
            Assert.Equal(frame, tapB.TakeWritten(TestNode.Timeout));
        }

        Assert.Equal(0, a.Manager.Drops.Get(DropReason.Oversize));
    }
}
