using System.Net.NetworkInformation;
using Ipop.Tap.Netlink;
using static Ipop.Tap.Tests.TestDevices;

namespace Ipop.Tap.Tests;

[Collection(NamespaceCollection.Name)]
public sealed class ErrorTests(NetworkNamespace ns)
{
    [Theory]
    [InlineData(VirtualInterfaceMode.Tun, 70000, "VirtualInterfaceOptions.Mtu: 70000 is out of range; a TUN interface's MTU must be between 68 and 65535.")]
    [InlineData(VirtualInterfaceMode.Tun, 67, "VirtualInterfaceOptions.Mtu: 67 is out of range; a TUN interface's MTU must be between 68 and 65535.")]
    [InlineData(VirtualInterfaceMode.Tap, 65535, "VirtualInterfaceOptions.Mtu: 65535 is out of range; a TAP interface's MTU must be between 68 and 65521.")]
    public void Invalid_mtu_is_rejected_before_asking_the_kernel(VirtualInterfaceMode mode, int mtu, string message)
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipopbad", Mode = mode, Mtu = mtu }));
        Assert.Equal(message, e.Message);
        Assert.Equal(0, e.ErrorNumber);
    }

    [Fact]
    public void Mtu_below_1280_is_rejected_when_ipv6_addresses_are_given()
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions
        {
            Mtu = 1200,
            Addresses = [InterfaceAddress.Parse("198.19.0.1/24"), InterfaceAddress.Parse("2001:2::1/64")],
        }));
        Assert.Equal("VirtualInterfaceOptions.Mtu: 1200 is below 1280, the minimum MTU for IPv6 (RFC 8200), and the interface has IPv6 addresses.", e.Message);
    }

    [Fact]
    public void Too_long_name_is_rejected()
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipop-name-too-long" }));
        Assert.Equal("VirtualInterfaceOptions.Name: 'ipop-name-too-long' is 18 bytes long; Linux interface names are at most 15 bytes.", e.Message);
    }

    [Theory]
    [InlineData("ipop 0", "contains ' '")]
    [InlineData("ipop/0", "contains '/'")]
    [InlineData("..", "is not a valid interface name")]
    public void Invalid_name_characters_are_rejected(string name, string expected)
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Name = name }));
        Assert.StartsWith("VirtualInterfaceOptions.Name: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mac_address_on_a_tun_interface_is_rejected()
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { MacAddress = PhysicalAddress.Parse("02-00-00-00-00-01") }));
        Assert.StartsWith("VirtualInterfaceOptions.MacAddress is only valid for a TAP interface", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("01-00-5E-00-00-01", "VirtualInterfaceOptions.MacAddress: 01:00:5e:00:00:01 is a multicast address")]
    [InlineData("00-00-00-00-00-00", "VirtualInterfaceOptions.MacAddress: 00:00:00:00:00:00 is not a valid interface address.")]
    [InlineData("02-00-00-00-01", "VirtualInterfaceOptions.MacAddress: '02:00:00:00:01' has 5 bytes")]
    public void Invalid_mac_address_is_rejected(string mac, string expected)
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Mode = VirtualInterfaceMode.Tap, MacAddress = PhysicalAddress.Parse(mac) }));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_or_duplicate_addresses_are_rejected_with_their_index()
    {
        var empty = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Addresses = [InterfaceAddress.Parse("198.19.0.1/24"), default] }));
        Assert.StartsWith("VirtualInterfaceOptions.Addresses[1] is an empty InterfaceAddress", empty.Message, StringComparison.Ordinal);

        var twice = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Addresses = [InterfaceAddress.Parse("198.19.0.1/24"), InterfaceAddress.Parse("198.19.0.1/24")] }));
        Assert.Equal("VirtualInterfaceOptions.Addresses[1]: 198.19.0.1/24 is listed twice.", twice.Message);
    }

    [Fact]
    public void Name_already_taken_by_another_tun_is_ebusy()
    {
        ns.RequireRoot();
        var options = new VirtualInterfaceOptions { Name = "ipopdup", Up = false };
        using IVirtualInterface first = ns.Enter(() => Factory.Create(options));

        var e = Assert.Throws<VirtualInterfaceException>(() => ns.Enter(() => Factory.Create(options)));

        Assert.Equal(16, e.ErrorNumber);
        Assert.Equal("Creating TUN interface 'ipopdup' failed: Device or resource busy (EBUSY); the name is taken by another TUN/TAP interface that is in use.", e.Message);
        Assert.NotNull(Show(ns, "link", "ipopdup"));
    }

    [Fact]
    public void Name_taken_by_a_non_tun_interface_is_einval()
    {
        ns.RequireRoot();

        var e = Assert.Throws<VirtualInterfaceException>(() => ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "lo" })));

        Assert.Equal(22, e.ErrorNumber);
        Assert.StartsWith("Creating TUN interface 'lo' failed: Invalid argument (EINVAL); the name is invalid, or taken by an interface that is not a TUN device", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0/0")]
    [InlineData("224.0.0.1/24")]
    [InlineData("255.255.255.255/32")]
    [InlineData("::/0")]
    [InlineData("ff02::1/64")]
    public void Non_unicast_address_is_rejected(string address)
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => Factory.Create(new VirtualInterfaceOptions { Addresses = [InterfaceAddress.Parse(address)] }));
        Assert.Equal($"VirtualInterfaceOptions.Addresses[0]: {address} is not a unicast address.", e.Message);
    }

    [Fact]
    public void Failed_configuration_leaves_no_interface_behind()
    {
        // A namespace of its own: new interfaces there get no IPv6, so the kernel refuses the IPv6 address
        // after the device exists.
        using var isolated = new NetworkNamespace();
        isolated.RequireRoot();
        isolated.Exec("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1").EnsureSuccess();

        var e = Assert.Throws<VirtualInterfaceException>(() => isolated.Enter(() => Factory.Create(new VirtualInterfaceOptions
        {
            Name = "ipophalf",
            Addresses = [InterfaceAddress.Parse("198.19.9.1/24"), InterfaceAddress.Parse("2001:2:9::1/64")],
        })));

        Assert.StartsWith("Adding address 2001:2:9::1/64 to ipophalf failed: ", e.Message, StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
        Assert.NotEqual(0, e.ErrorNumber);
        Assert.Null(Show(isolated, "link", "ipophalf"));
    }

    [Fact]
    public void Kernel_rejection_of_a_netlink_request_names_the_operation_and_errno()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipop0", Up = false }));

        // Bypass our own validation to see what the kernel's NLMSG_ERROR ack turns into.
        var e = Assert.Throws<VirtualInterfaceException>(() => ns.Enter(() =>
        {
            using RtNetlinkSocket netlink = RtNetlinkSocket.Open();
            netlink.SetMtu(tun.Index, 70000, tun.Name);
            return 0;
        }));

        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
        Assert.Equal(22, e.ErrorNumber);
        Assert.StartsWith("Setting MTU 70000 on ipop0 failed: Invalid argument (EINVAL)", e.Message, StringComparison.Ordinal);
        Assert.Equal(1400, Show(ns, "link", "ipop0")!.Value.GetProperty("mtu").GetInt32());
    }

    [Fact]
    public void Set_mtu_validates_before_asking_the_kernel()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipopmtu", Up = false }));

        var e = Assert.Throws<VirtualInterfaceException>(() => tun.SetMtu(70000));

        Assert.Equal("mtu: 70000 is out of range; a TUN interface's MTU must be between 68 and 65535.", e.Message);
        Assert.Equal(1400, tun.Mtu);
    }

    [Fact]
    public void Missing_cap_net_admin_is_eperm_with_a_hint()
    {
        ns.RequireRoot();

        var e = Assert.Throws<VirtualInterfaceException>(() => ns.Enter(() =>
        {
            ThreadCapabilities.DropEffective(ThreadCapabilities.CAP_NET_ADMIN);
            return Factory.Create(new VirtualInterfaceOptions { Name = "ipopperm" });
        }));

        Assert.Equal(1, e.ErrorNumber);
        Assert.Equal("Creating TUN interface 'ipopperm' failed: Operation not permitted (EPERM); creating TUN/TAP interfaces needs root or CAP_NET_ADMIN.", e.Message);
        Assert.Null(Show(ns, "link", "ipopperm"));
    }

    [Fact]
    public void Missing_clone_device_is_enoent_with_a_hint()
    {
        var e = Assert.Throws<VirtualInterfaceException>(() => TunTapDevice.Create(
            new VirtualInterfaceOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, "/nonexistent/net/tun"));

        Assert.Equal(2, e.ErrorNumber);
        Assert.StartsWith("Opening /nonexistent/net/tun failed: No such file or directory (ENOENT); the TUN/TAP driver is missing", e.Message, StringComparison.Ordinal);
    }
}
