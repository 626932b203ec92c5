using System.Net;
using Ipop.Tincan;

namespace Ipop.Controllers;

/// <summary>Configuration of a GroupVPN node (section <c>GroupVpn</c> of the host's config).</summary>
public sealed class GroupVpnOptions
{
    /// <summary>The group: for XMPP, the multi-user chat room JID (e.g. <c>lab@conference.lab.test</c>).</summary>
    public string Group { get; set; } = string.Empty;

    /// <summary>The group's IPv4 subnet, the same on every member (e.g. <c>198.19.0.0/16</c>).</summary>
    public string Subnet { get; set; } = string.Empty;

    /// <summary>This node's address in <see cref="Subnet"/>; empty to have one assigned without conflicts.</summary>
    public string? Address { get; set; }

    /// <summary>Optional IPv6 subnet (a /64 or shorter); members derive their address from their IPv4 host number.</summary>
    public string? Ipv6Subnet { get; set; }

    /// <summary><c>tun</c> (routing by IP, layer 3) or <c>tap</c> (switch mode, layer 2).</summary>
    public string Mode { get; set; } = "tun";

    /// <summary>Name of the virtual interface to create.</summary>
    public string InterfaceName { get; set; } = "ipop0";

    /// <summary>MTU of the virtual interface.</summary>
    public int Mtu { get; set; } = VirtualInterfaceOptions.DefaultMtu;

    /// <summary>Switch mode: a Linux bridge to attach the TAP device to (containers on the bridge join the group's L2 segment).</summary>
    public string? BridgeName { get; set; }

    /// <summary>First retry delay after a link failed; doubles up to <see cref="LinkRetryMaxSeconds"/>.</summary>
    public double LinkRetryMinSeconds { get; set; } = 1;

    /// <summary>Longest retry delay.</summary>
    public double LinkRetryMaxSeconds { get; set; } = 30;

    /// <summary>
    /// How long links outlive a signaling outage. Losing the signaling server never removes a link by itself,
    /// but while it is down nobody's membership can be re-checked; after this long the links end (with a log
    /// line) and come back once signaling does. Default one hour.
    /// </summary>
    public double SignalingOutageLinkLifetimeSeconds { get; set; } = 3600;

    /// <summary>Switch mode: most MAC addresses the switch learns from behind bridges; the oldest learned ones are evicted first.</summary>
    public int MaxLearnedMacs { get; set; } = LearningSwitch.DefaultMaxStations;

    /// <summary>
    /// Which links members keep (docs/scale.md): <c>mesh</c> links every member to every other (N−1 links each);
    /// <c>structured</c> links each to its <see cref="RingNeighbours"/> ring neighbours both ways, about log2 N long
    /// links and on-demand links to members it exchanges traffic with, and forwards packets for the rest hop by hop;
    /// <c>auto</c> (the default) is a mesh up to <see cref="StructuredAbove"/> online members and structured above.
    /// Structured needs <see cref="Mode"/> <c>tun</c> (frames are not forwarded yet).
    /// </summary>
    public string Topology { get; set; } = "auto";

    /// <summary><c>auto</c> topology: the number of online members (this node included) above which the group is structured.</summary>
    public int StructuredAbove { get; set; } = 16;

    /// <summary>Structured topology: k, the ring successors and predecessors each member links to.</summary>
    public int RingNeighbours { get; set; } = 2;

    /// <summary>Structured topology: packets per second towards a member reached through others that earn it a direct link.</summary>
    public int OnDemandPacketsPerSecond { get; set; } = 50;

    /// <summary>Structured topology: seconds without traffic after which an on-demand link is released.</summary>
    public double OnDemandIdleSeconds { get; set; } = 60;

    /// <summary>Structured topology: the most on-demand links a member keeps at once (beyond the structured ones).</summary>
    public int OnDemandMaxLinks { get; set; } = 8;

    /// <summary>Checks the options; returns one message per problem, each naming the key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Group))
        {
            errors.Add("GroupVpn:Group is required (the room JID of the group, e.g. lab@conference.lab.test).");
        }

        if (!IPNetwork.TryParse(Subnet, out IPNetwork subnet) || subnet.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || subnet.PrefixLength > 30)
        {
            errors.Add($"GroupVpn:Subnet must be an IPv4 prefix of length 30 or shorter such as 198.19.0.0/16, got '{Subnet}'.");
        }
        else if (!string.IsNullOrEmpty(Address) && (!IPAddress.TryParse(Address, out IPAddress? a) || !subnet.Contains(a)))
        {
            errors.Add($"GroupVpn:Address must be an IPv4 address inside {Subnet}, got '{Address}'.");
        }

        if (!string.IsNullOrEmpty(Ipv6Subnet) && (!IPNetwork.TryParse(Ipv6Subnet, out IPNetwork v6) || v6.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || v6.PrefixLength > 64))
        {
            errors.Add($"GroupVpn:Ipv6Subnet must be an IPv6 prefix of length 64 or shorter such as 2001:2:0:1::/64, got '{Ipv6Subnet}'.");
        }

        if (Mode is not ("tun" or "tap"))
        {
            errors.Add($"GroupVpn:Mode must be 'tun' or 'tap', got '{Mode}'.");
        }

        if (InterfaceName.Length is 0 or > 15)
        {
            errors.Add($"GroupVpn:InterfaceName must be 1..15 characters, got '{InterfaceName}'.");
        }

        if (Mtu is < 576 or > 9000)
        {
            errors.Add($"GroupVpn:Mtu must be between 576 and 9000, got {Mtu}.");
        }

        if (BridgeName is { Length: > 0 } && Mode != "tap")
        {
            errors.Add("GroupVpn:BridgeName needs GroupVpn:Mode 'tap' (only Ethernet frames can join a bridge).");
        }

        if (LinkRetryMinSeconds <= 0 || LinkRetryMaxSeconds < LinkRetryMinSeconds)
        {
            errors.Add($"GroupVpn:LinkRetryMinSeconds must be > 0 and <= LinkRetryMaxSeconds, got {LinkRetryMinSeconds} and {LinkRetryMaxSeconds}.");
        }

        if (!(SignalingOutageLinkLifetimeSeconds >= 1 && SignalingOutageLinkLifetimeSeconds <= 7 * 24 * 3600))
        {
            errors.Add($"GroupVpn:SignalingOutageLinkLifetimeSeconds must be between 1 and 604800 (a week), got {SignalingOutageLinkLifetimeSeconds}.");
        }

        if (Topology is not ("mesh" or "structured" or "auto"))
        {
            errors.Add($"GroupVpn:Topology must be 'mesh', 'structured' or 'auto', got '{Topology}'.");
        }

        if (StructuredAbove is < 3 or > 100_000)
        {
            errors.Add($"GroupVpn:StructuredAbove must be between 3 and 100000 members, got {StructuredAbove}.");
        }

        if (RingNeighbours is < 1 or > 8)
        {
            errors.Add($"GroupVpn:RingNeighbours must be between 1 and 8, got {RingNeighbours}.");
        }

        if (OnDemandPacketsPerSecond is < 1 or > 1_000_000)
        {
            errors.Add($"GroupVpn:OnDemandPacketsPerSecond must be between 1 and 1000000, got {OnDemandPacketsPerSecond}.");
        }

        if (!(OnDemandIdleSeconds >= 1 && OnDemandIdleSeconds <= 86_400))
        {
            errors.Add($"GroupVpn:OnDemandIdleSeconds must be between 1 and 86400 (a day), got {OnDemandIdleSeconds}.");
        }

        if (OnDemandMaxLinks is < 0 or > 1024)
        {
            errors.Add($"GroupVpn:OnDemandMaxLinks must be between 0 and 1024, got {OnDemandMaxLinks}.");
        }

        if (MaxLearnedMacs is < 16 or > 1_000_000)
        {
            errors.Add($"GroupVpn:MaxLearnedMacs must be between 16 and 1000000, got {MaxLearnedMacs}.");
        }

        return errors;
    }
}
