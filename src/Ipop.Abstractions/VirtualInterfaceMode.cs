namespace Ipop;

/// <summary>What a virtual network interface carries.</summary>
public enum VirtualInterfaceMode
{
    /// <summary>Layer 3: whole IPv4 and IPv6 packets, no link-layer header (Linux TUN with <c>IFF_NO_PI</c>).</summary>
    Tun,

    /// <summary>Layer 2: whole Ethernet frames ("switch mode", Linux TAP).</summary>
    Tap,
}
