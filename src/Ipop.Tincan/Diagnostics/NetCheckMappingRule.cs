using System.Net;

namespace Ipop.Tincan.Diagnostics;

/// <summary>Compares the public addresses several STUN servers saw for one socket (RFC 4787 section 4.1).</summary>
internal static class NetCheckMappingRule
{
    /// <param name="answers">Each answering IPv4 STUN server's address and the mapped address it reported.</param>
    /// <param name="localPort">The asking socket's local port.</param>
    /// <param name="localAddresses">This host's own addresses (a mapped address among them means no NAT).</param>
    public static (NatMapping Mapping, string Detail) Classify(IReadOnlyList<(IPEndPoint Server, IPEndPoint Mapped)> answers, int localPort, IReadOnlySet<IPAddress> localAddresses)
    {
        if (answers.Count == 0)
        {
            return (NatMapping.Unknown, "No IPv4 STUN server answered, so the NAT's mapping is unknown; links can only use host candidates and relays.");
        }

        IPEndPoint first = answers[0].Mapped;
        bool allSame = answers.All(a => a.Mapped.Equals(first));
        if (allSame && first.Port == localPort && localAddresses.Contains(first.Address))
        {
            return (NatMapping.NoNat, $"No NAT: the servers saw this host's own address {first}; peers can reach it directly.");
        }

        int distinctServers = answers.Select(a => a.Server).Distinct().Count();
        if (distinctServers < 2)
        {
            return (NatMapping.Unknown, $"Behind a NAT (public address {first}), but only one STUN server answered; comparing mappings needs two (configure a second STUN server, or the same server on a second port).");
        }

        if (allSame)
        {
            return (NatMapping.EndpointIndependent, $"Cone NAT (endpoint-independent mapping): every server saw {first}; hole punching will work.");
        }

        string seen = string.Join(", ", answers.Select(a => $"{a.Server} saw {a.Mapped}"));
        return (NatMapping.EndpointDependent, $"Symmetric NAT (endpoint-dependent mapping): {seen}; links to peers behind NATs will relay through TURN.");
    }
}
