using System.Net.NetworkInformation;

namespace Ipop;

/// <summary>How to create and configure a virtual network interface.</summary>
public sealed record VirtualInterfaceOptions
{
    /// <summary>Interface name (at most 15 bytes on Linux). Empty lets the kernel pick (<c>tun0</c>, <c>tap0</c>, ...).</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>TUN (IP packets) or TAP (Ethernet frames).</summary>
    public VirtualInterfaceMode Mode { get; init; } = VirtualInterfaceMode.Tun;

    /// <summary>MTU in bytes of the packets the interface carries (IP packet size for TUN, payload size for TAP).</summary>
    public int Mtu { get; init; } = 1400;

    /// <summary>Addresses to assign (IPv4 and/or IPv6), each with its on-link prefix length.</summary>
    public IReadOnlyList<InterfaceAddress> Addresses { get; init; } = [];

    /// <summary>TAP only: the MAC address to set; <c>null</c> keeps the kernel's random one.</summary>
    public PhysicalAddress? MacAddress { get; init; }

    /// <summary>
    /// TAP only: the name of an existing Linux bridge to enslave the device to, so containers or a LAN
    /// on that bridge share the overlay's Ethernet segment; <c>null</c> for none.
    /// </summary>
    public string? BridgeName { get; init; }

    /// <summary>
    /// Use the kernel's segmentation offloads where it offers them (Linux: <c>IFF_VNET_HDR</c> with TSO4/TSO6, and
    /// USO on kernels that have it). One read then returns a large TCP send cut into MTU-sized packets
    /// (<see cref="IVirtualInterface.ReadBatch"/>), and consecutive segments of one TCP flow are written as one
    /// coalesced packet (<see cref="IVirtualInterface.WriteBatch"/>), which saves most of the per-packet cost in the
    /// kernel. Packets on the wire are the same either way. If the kernel refuses, the interface falls back to one
    /// packet per read and write and logs why. Default <c>true</c>.
    /// </summary>
    public bool Offload { get; init; } = true;

    /// <summary>Bring the interface up after configuring it.</summary>
    public bool Up { get; init; } = true;
}
