using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;
using static Ipop.Tap.Tests.TestDevices;

namespace Ipop.Tap.Tests;

[Collection(NamespaceCollection.Name)]
public sealed class TapDeviceTests(NetworkNamespace ns)
{
    private static readonly PhysicalAddress OurMac = PhysicalAddress.Parse("02-00-5E-10-00-01");
    private static readonly byte[] PeerMac = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x02];
    private static readonly IPAddress Peer = IPAddress.Parse("198.19.1.2");

    [Fact]
    public async Task Kernel_ping_over_tap_is_answered_with_hand_crafted_arp_and_echo_reply_frames()
    {
        ns.RequireRoot();
        using IVirtualInterface tap = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions
        {
            Name = "ipoptap0",
            Mode = VirtualInterfaceMode.Tap,
            MacAddress = OurMac,
            Mtu = 1500,
            Addresses = [InterfaceAddress.Parse("198.19.1.1/24")],
        }));
        Assert.Equal(OurMac, tap.MacAddress);
        JsonElement link = Show(ns, "link", "ipoptap0")!.Value;
        Assert.Equal("02:00:5e:10:00:01", link.GetProperty("address").GetString());
        Assert.Equal(1500, link.GetProperty("mtu").GetInt32());

        Task<CommandResult> ping = ns.ExecAsync("ping", "-c1", "-W3", "198.19.1.2");
        byte[] buffer = new byte[2048];
        byte[] reply = new byte[64];

        int n = ReadUntil(tap, buffer, (b, len) => PacketCrafter.IsArpRequest(b.AsSpan(0, len), Peer));
        Assert.Equal(OurMac.GetAddressBytes(), buffer.AsSpan(6, 6).ToArray());
        int replyLength = PacketCrafter.WriteArpReply(buffer.AsSpan(0, n), PeerMac, reply);
        Assert.True(tap.Write(reply.AsSpan(0, replyLength)));

        n = ReadUntil(tap, buffer, (b, len) => PacketCrafter.IsIcmpEchoRequestFrame(b.AsSpan(0, len), Peer));
        // The kernel learned our ARP answer: the echo request is addressed to the peer's MAC.
        Assert.Equal(PeerMac, buffer.AsSpan(0, 6).ToArray());
        PacketCrafter.MakeIcmpEchoReplyFrame(buffer.AsSpan(0, n));
        Assert.True(tap.Write(buffer.AsSpan(0, n)));

        CommandResult result = await ping;
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("1 received", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Tap_without_a_configured_mac_reports_the_kernels_random_one()
    {
        ns.RequireRoot();
        using IVirtualInterface tap = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipoptap1", Mode = VirtualInterfaceMode.Tap, Up = false }));

        string? shown = Show(ns, "link", "ipoptap1")!.Value.GetProperty("address").GetString();
        Assert.NotNull(tap.MacAddress);
        Assert.Equal(shown, string.Join(':', tap.MacAddress!.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public void Tap_is_attached_to_an_existing_bridge_through_rtnetlink()
    {
        ns.RequireRoot();
        ns.Exec("ip", "link", "add", "ipopbr0", "type", "bridge").EnsureSuccess();
        try
        {
            using IVirtualInterface tap = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipoptap2", Mode = VirtualInterfaceMode.Tap, BridgeName = "ipopbr0" }));
            Assert.Equal("ipopbr0", Show(ns, "link", "ipoptap2")!.Value.GetProperty("master").GetString());
        }
        finally
        {
            ns.Exec("ip", "link", "del", "ipopbr0");
        }
    }

    [Fact]
    public void Attaching_to_a_missing_bridge_or_a_tun_to_any_bridge_is_refused_with_a_clear_message()
    {
        ns.RequireRoot();
        VirtualInterfaceException missing = Assert.Throws<VirtualInterfaceException>(() =>
            ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipoptap3", Mode = VirtualInterfaceMode.Tap, BridgeName = "nosuchbr" })));
        Assert.Contains("no interface of that name", missing.Message, StringComparison.Ordinal);
        Assert.Null(Show(ns, "link", "ipoptap3"));

        VirtualInterfaceException tun = Assert.Throws<VirtualInterfaceException>(() =>
            Factory.Create(new VirtualInterfaceOptions { Name = "ipoptun9", Mode = VirtualInterfaceMode.Tun, BridgeName = "br0" }));
        Assert.Contains("BridgeName is only valid for a TAP interface", tun.Message, StringComparison.Ordinal);
    }
}
