using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Ipop.Tap.Interop;
using Ipop.Tap.Netlink;
using Ipop.Tap.Offload;
using Microsoft.Extensions.Logging;

namespace Ipop.Tap;

/// <summary>Creating and configuring the device: the clone device, TUNSETIFF, its index, the wake-up eventfd, MAC, MTU, addresses, bridge.</summary>
internal sealed partial class TunTapDevice
{
    private static FileDescriptorHandle OpenTun(string tunPath)
    {
        int fd = Libc.Open(tunPath, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            return new FileDescriptorHandle(fd);
        }

        int errno = Marshal.GetLastPInvokeError();
        string hint = errno switch
        {
            Errno.ENOENT => "; the TUN/TAP driver is missing (load the 'tun' module, or create the node with 'mknod /dev/net/tun c 10 200'; in a container, pass the device in)",
            Errno.ENODEV or Errno.ENXIO => "; the TUN/TAP driver is not loaded (modprobe tun)",
            Errno.EACCES or Errno.EPERM => "; run as root or with CAP_NET_ADMIN and access to the device",
            _ => string.Empty,
        };
        throw new VirtualInterfaceException($"Opening {tunPath} failed: {Errno.Describe(errno)}{hint}.") { ErrorNumber = errno };
    }

    private static unsafe string AttachInterface(FileDescriptorHandle tun, VirtualInterfaceOptions options)
    {
        // struct ifreq { char ifr_name[IFNAMSIZ]; union { short ifr_flags; ... } } (40 bytes on 64-bit).
        byte* ifr = stackalloc byte[Libc.IfReqSize];
        var span = new Span<byte>(ifr, Libc.IfReqSize);
        span.Clear();
        _ = Encoding.UTF8.GetBytes(options.Name, span[..(Libc.IFNAMSIZ - 1)]);
        short kind = options.Mode == VirtualInterfaceMode.Tap ? Libc.IFF_TAP : Libc.IFF_TUN;
        // IFF_VNET_HDR can only be chosen here; whether offloads really come on is negotiated afterwards.
        int flags = kind | Libc.IFF_NO_PI | (options.Offload ? Libc.IFF_VNET_HDR : 0);
        *(short*)(ifr + Libc.IFNAMSIZ) = (short)flags;

        string kindText = options.Mode == VirtualInterfaceMode.Tap ? "TAP" : "TUN";
        string what = options.Name.Length == 0 ? $"a {kindText} interface" : $"{kindText} interface '{options.Name}'";
        if (Libc.Ioctl(tun.Fd, Libc.TUNSETIFF, ifr) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string hint = errno switch
            {
                Errno.EPERM or Errno.EACCES => "; creating TUN/TAP interfaces needs root or CAP_NET_ADMIN",
                Errno.EBUSY => "; the name is taken by another TUN/TAP interface that is in use",
                Errno.EINVAL => "; the name is invalid, or taken by an interface that is not a " + kindText + " device",
                Errno.EEXIST => "; an interface with this name already exists",
                _ => string.Empty,
            };
            throw new VirtualInterfaceException($"Creating {what} failed: {Errno.Describe(errno)}{hint}.") { ErrorNumber = errno };
        }

        ReadOnlySpan<byte> nameBytes = span[..Libc.IFNAMSIZ];
        int nul = nameBytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? nameBytes : nameBytes[..nul]);
    }

    private static int GetIndex(string name)
    {
        uint index = Libc.IfNameToIndex(name);
        if (index == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VirtualInterfaceException($"Looking up the index of {name} failed: {Errno.Describe(errno)}.") { ErrorNumber = errno };
        }

        return (int)index;
    }

    private static FileDescriptorHandle OpenEventFd(string name)
    {
        int fd = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VirtualInterfaceException($"Creating the wake-up eventfd for {name} failed: {Errno.Describe(errno)}.") { ErrorNumber = errno };
        }

        return new FileDescriptorHandle(fd);
    }

    private unsafe PhysicalAddress ReadMacAddress()
    {
        // The tun character device answers SIOCGIFHWADDR itself, so no socket (and no namespace) is needed.
        byte* ifr = stackalloc byte[Libc.IfReqSize];
        new Span<byte>(ifr, Libc.IfReqSize).Clear();
        if (Libc.Ioctl(_tun.Fd, Libc.SIOCGIFHWADDR, ifr) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VirtualInterfaceException($"Reading the MAC address of {Name} failed: {Errno.Describe(errno)}.") { ErrorNumber = errno };
        }

        // ifr_hwaddr is a struct sockaddr: 2 bytes of family, then the address in sa_data.
        return new PhysicalAddress(new ReadOnlySpan<byte>(ifr + Libc.IFNAMSIZ + 2, 6).ToArray());
    }

    private void Configure(VirtualInterfaceOptions options)
    {
        if (Mode == VirtualInterfaceMode.Tap)
        {
            if (options.MacAddress is { } mac)
            {
                _netlink.SetMacAddress(Index, mac, Name);
            }

            MacAddress = ReadMacAddress();
        }

        // MTU before addresses: the kernel only keeps IPv6 on a device whose MTU is at least 1280.
        _netlink.SetMtu(Index, options.Mtu, Name);
        Mtu = options.Mtu;

        foreach (InterfaceAddress address in options.Addresses)
        {
            _netlink.AddAddress(Index, address, Name);
        }

        if (options.BridgeName is { Length: > 0 } bridge)
        {
            uint bridgeIndex = Libc.IfNameToIndex(bridge);
            if (bridgeIndex == 0)
            {
                throw new VirtualInterfaceException($"Cannot attach {Name} to bridge '{bridge}': no interface of that name in this network namespace.") { ErrorNumber = Errno.ENODEV };
            }

            _netlink.SetMaster(Index, (int)bridgeIndex, Name, bridge);
        }

        if (options.Up)
        {
            _netlink.SetUp(Index, true, Name);
        }
    }
}
