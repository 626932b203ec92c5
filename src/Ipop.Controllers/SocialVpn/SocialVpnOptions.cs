using System.Net;

namespace Ipop.Controllers;

/// <summary>Configuration of a SocialVPN node (section <c>SocialVpn</c> of the host's config).</summary>
public sealed class SocialVpnOptions
{
    /// <summary><see cref="Links"/>: a link to a friend only while there is traffic to or from it (the default).</summary>
    public const string OnDemandLinks = "on-demand";

    /// <summary><see cref="Links"/>: a link to every online friend, whether or not it is used (a full mesh of friends).</summary>
    public const string AlwaysLinks = "always";

    /// <summary>
    /// This node's private IPv4 pool (e.g. <c>198.19.96.0/20</c>, up to 4,093 friend devices); empty picks the first
    /// default candidate (a /20, else a /24) that no local subnet or route overlaps.
    /// </summary>
    public string? Pool { get; set; }

    /// <summary>Name of the virtual interface to create.</summary>
    public string InterfaceName { get; set; } = "ipop0";

    /// <summary>MTU of the virtual interface.</summary>
    public int Mtu { get; set; } = VirtualInterfaceOptions.DefaultMtu;

    /// <summary>Where the friend-device-to-address mapping is kept across restarts; empty keeps it in memory only.</summary>
    public string? AddressBookPath { get; set; }

    /// <summary>An address is given to another device only after its owner was unseen this long.</summary>
    public double RecycleAfterHours { get; set; } = 24 * 7;

    /// <summary>DNS suffix for friends' names: <c>bob.ipop</c> resolves to Bob's address in our view (answered on our VPN address, port 53).</summary>
    public string NameSuffix { get; set; } = "ipop";

    /// <summary>Serve friends' names over DNS on our VPN address.</summary>
    public bool EnableDns { get; set; } = true;

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

    /// <summary>
    /// When friends are linked: <see cref="OnDemandLinks"/> (<c>on-demand</c>, the default) links a friend when the first
    /// packet for its address arrives (held meanwhile, see <see cref="HoldPacketsPerFriend"/>) and releases the link after
    /// <see cref="LinkIdleSeconds"/> without traffic; <see cref="AlwaysLinks"/> (<c>always</c>) links every online friend.
    /// </summary>
    public string Links { get; set; } = OnDemandLinks;

    /// <summary>On demand: a link unused (no packet either way) this long is released. Default two minutes.</summary>
    public double LinkIdleSeconds { get; set; } = 120;

    /// <summary>On demand: packets held per friend while its link comes up (the rest are dropped and counted). Default 8.</summary>
    public int HoldPacketsPerFriend { get; set; } = 8;

    /// <summary>On demand: packets held for all friends together. Default 256.</summary>
    public int HoldPacketsTotal { get; set; } = 256;

    /// <summary>On demand: how long a held packet waits for its link before it is dropped (and counted). Default 5 s.</summary>
    public double HoldSeconds { get; set; } = 5;

    /// <summary>Checks the options; returns one message per problem, each naming the key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!string.IsNullOrEmpty(Pool) && (!IPNetwork.TryParse(Pool, out IPNetwork p) || p.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || p.PrefixLength > 30))
        {
            errors.Add($"SocialVpn:Pool must be an IPv4 prefix of length 30 or shorter such as 198.19.100.0/24, got '{Pool}'.");
        }

        if (InterfaceName.Length is 0 or > 15)
        {
            errors.Add($"SocialVpn:InterfaceName must be 1..15 characters, got '{InterfaceName}'.");
        }

        if (Mtu is < 576 or > 9000)
        {
            errors.Add($"SocialVpn:Mtu must be between 576 and 9000, got {Mtu}.");
        }

        if (RecycleAfterHours <= 0)
        {
            errors.Add($"SocialVpn:RecycleAfterHours must be positive, got {RecycleAfterHours}.");
        }

        if (string.IsNullOrWhiteSpace(NameSuffix) || NameSuffix.Contains(' ', StringComparison.Ordinal) || NameSuffix.StartsWith('.'))
        {
            errors.Add($"SocialVpn:NameSuffix must be a DNS label such as 'ipop', got '{NameSuffix}'.");
        }

        if (LinkRetryMinSeconds <= 0 || LinkRetryMaxSeconds < LinkRetryMinSeconds)
        {
            errors.Add($"SocialVpn:LinkRetryMinSeconds must be > 0 and <= LinkRetryMaxSeconds, got {LinkRetryMinSeconds} and {LinkRetryMaxSeconds}.");
        }

        if (!(SignalingOutageLinkLifetimeSeconds >= 1 && SignalingOutageLinkLifetimeSeconds <= 7 * 24 * 3600))
        {
            errors.Add($"SocialVpn:SignalingOutageLinkLifetimeSeconds must be between 1 and 604800 (a week), got {SignalingOutageLinkLifetimeSeconds}.");
        }

        if (Links is not (OnDemandLinks or AlwaysLinks))
        {
            errors.Add($"SocialVpn:Links must be '{OnDemandLinks}' or '{AlwaysLinks}', got '{Links}'.");
        }

        if (!(LinkIdleSeconds >= 1 && LinkIdleSeconds <= 7 * 24 * 3600))
        {
            errors.Add($"SocialVpn:LinkIdleSeconds must be between 1 and 604800 (a week), got {LinkIdleSeconds}.");
        }

        if (HoldPacketsPerFriend is < 1 or > 1024)
        {
            errors.Add($"SocialVpn:HoldPacketsPerFriend must be between 1 and 1024, got {HoldPacketsPerFriend}.");
        }

        if (HoldPacketsTotal < HoldPacketsPerFriend || HoldPacketsTotal > 65536)
        {
            errors.Add($"SocialVpn:HoldPacketsTotal must be between HoldPacketsPerFriend ({HoldPacketsPerFriend}) and 65536, got {HoldPacketsTotal}.");
        }

        if (!(HoldSeconds >= 0.1 && HoldSeconds <= 60))
        {
            errors.Add($"SocialVpn:HoldSeconds must be between 0.1 and 60, got {HoldSeconds}.");
        }

        return errors;
    }
}
