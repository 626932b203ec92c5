namespace Ipop;

/// <summary>Where a transport address candidate came from (RFC 8445 section 5.1.1).</summary>
public enum CandidateType
{
    /// <summary>An address of a local interface.</summary>
    Host,

    /// <summary>The public mapping a STUN server saw (our NAT's outside address).</summary>
    ServerReflexive,

    /// <summary>An address learned from a connectivity check of the peer.</summary>
    PeerReflexive,

    /// <summary>An address allocated on a TURN relay.</summary>
    Relayed,
}
