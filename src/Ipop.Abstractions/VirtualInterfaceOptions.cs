using System.Net.NetworkInformation;

namespace Ipop;

/// <summary>How to create and configure a virtual network interface.</summary>
public sealed record VirtualInterfaceOptions
{
    /// <summary>
    /// The overlay MTU every Ipop default uses: the interface's (<see cref="Mtu"/>), the links' (Ipop.Tincan's
    /// <c>TincanOptions.Mtu</c>), the controllers', the controller API's and the <c>ipop-tincan</c> tool's. 1400 bytes.
    /// </summary>
    /// <remarks>
    /// The largest size for which everything a link accepts still fits one 1500-byte underlay datagram over IPv6 as
    /// well as IPv4, so no path needs fragmentation or path MTU discovery to start: a link carries the MTU plus 18
    /// bytes (a TAP frame's 14-byte Ethernet header and one 4-byte VLAN tag), sealed with a 16-byte header and a
    /// 16-byte tag, in UDP (8) over IPv6 (40): 1500 - 40 - 8 - 16 - 16 - 18 = 1402, rounded down to 1400. (A TUN
    /// packet of 1400 needs 1480 underlay bytes on IPv6, 1460 on IPv4.) An interface's MTU must not exceed the
    /// links' (<c>ITincan.AttachInterface</c> refuses it).
    /// </remarks>
    public const int DefaultMtu = 1400;

    /// <summary>Interface name (at most 15 bytes on Linux). Empty lets the kernel pick (<c>tun0</c>, <c>tap0</c>, ...).</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>TUN (IP packets) or TAP (Ethernet frames).</summary>
    public VirtualInterfaceMode Mode { get; init; } = VirtualInterfaceMode.Tun;

    /// <summary>
    /// MTU in bytes of the packets the interface carries (IP packet size for TUN, payload size for TAP: a TAP frame is
    /// 14 bytes more). Default <see cref="DefaultMtu"/> (1400); at most the links' MTU (Ipop.Tincan's <c>TincanOptions.Mtu</c>).
    /// </summary>
    public int Mtu { get; init; } = DefaultMtu;

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
