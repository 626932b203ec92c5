using System.Net;

namespace Ipop;

/// <summary>A transport address at which a node may be reachable over UDP, with its ICE-style priority.</summary>
/// <param name="Type">Where the address came from.</param>
/// <param name="EndPoint">The UDP address.</param>
/// <param name="Priority">RFC 8445 priority (higher is preferred).</param>
/// <param name="Foundation">Groups candidates of the same type from the same base and server.</param>
/// <param name="Server">For server-reflexive and relayed candidates: the STUN/TURN server (host:port) that produced it.</param>
public sealed record Candidate(CandidateType Type, IPEndPoint EndPoint, uint Priority, string Foundation, string? Server = null)
{
    /// <summary>RFC 8445 section 5.1.2.1 priority for a component-1 candidate.</summary>
    /// <param name="type">Candidate type.</param>
    /// <param name="localPreference">0..65535; distinguishes candidates of one type (e.g. IPv6 before IPv4, one TURN server before another).</param>
    public static uint ComputePriority(CandidateType type, int localPreference)
    {
        uint typePreference = type switch
        {
            CandidateType.Host => 126,
            CandidateType.PeerReflexive => 110,
            CandidateType.ServerReflexive => 100,
            _ => 0,
        };
        return (typePreference << 24) | ((uint)Math.Clamp(localPreference, 0, 65535) << 8) | (256 - 1);
    }

    /// <inheritdoc />
    public override string ToString() => Server is null ? $"{Type} {EndPoint}" : $"{Type} {EndPoint} via {Server}";
}
