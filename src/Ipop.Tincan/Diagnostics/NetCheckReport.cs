namespace Ipop.Tincan.Diagnostics;

/// <summary>What <see cref="NetCheck"/> found.</summary>
/// <param name="Mapping">How the NAT (if any) maps this node's UDP socket toward different servers.</param>
/// <param name="MappingDetail">One plain sentence: what the mapping means for links (hole punching works, or links will relay), and why it is unknown when it is.</param>
/// <param name="Ipv6Reachable">True when an IPv6 STUN server answered, false when one was asked and none answered, null when none is configured.</param>
/// <param name="Servers">Each STUN and TURN server asked, in configuration order (STUN first).</param>
public sealed record NetCheckReport(NatMapping Mapping, string MappingDetail, bool? Ipv6Reachable, IReadOnlyList<NetCheckServer> Servers);

/// <summary>One server's answer to <see cref="NetCheck"/>.</summary>
/// <param name="Kind"><c>stun</c> or <c>turn</c>.</param>
/// <param name="Server">The server as configured (<c>host:port</c>).</param>
/// <param name="Address">The address it resolved to, or null when resolution failed.</param>
/// <param name="RoundTrip">Time to its answer, or null when it did not answer.</param>
/// <param name="MappedAddress">The server-reflexive address it reported (STUN only), or null.</param>
/// <param name="Error">Why there is no answer (one line), or null.</param>
public sealed record NetCheckServer(string Kind, string Server, string? Address, TimeSpan? RoundTrip, string? MappedAddress, string? Error);

/// <summary>How a NAT maps one local UDP socket toward different destinations (RFC 4787 terms).</summary>
public enum NatMapping
{
    /// <summary>Fewer than two servers of one address family answered, so mappings could not be compared.</summary>
    Unknown,

    /// <summary>The servers saw the socket's own address: no NAT on the path.</summary>
    NoNat,

    /// <summary>Every server saw the same public address and port (a "cone" NAT): hole punching will work.</summary>
    EndpointIndependent,

    /// <summary>Servers saw different public ports or addresses (a "symmetric" NAT): links to peers behind NATs will relay.</summary>
    EndpointDependent,
}
