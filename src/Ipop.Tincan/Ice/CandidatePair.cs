namespace Ipop.Tincan.Ice;

/// <summary>
/// One local candidate paired with one remote candidate. Immutable: the checklist keeps the mutable
/// check state beside it, so a pair can be handed to other threads (stats, logs) safely.
/// </summary>
internal sealed record CandidatePair(Candidate Local, Candidate Remote, ulong Priority)
{
    /// <summary>RFC 8445 §6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G&gt;D?1:0), G the controlling side's candidate priority.</summary>
    public static ulong ComputePriority(uint controllingPriority, uint controlledPriority)
    {
        ulong g = controllingPriority;
        ulong d = controlledPriority;
        return (Math.Min(g, d) << 32) + (2 * Math.Max(g, d)) + (g > d ? 1UL : 0UL);
    }

    /// <summary>What kind of path this pair is, as links report it.</summary>
    public LinkPath PathKind =>
        Local.Type == CandidateType.Relayed || Remote.Type == CandidateType.Relayed ? LinkPath.Relayed
        : Remote.Type switch
        {
            CandidateType.Host => LinkPath.DirectHost,
            CandidateType.ServerReflexive => LinkPath.DirectServerReflexive,
            _ => LinkPath.DirectPeerReflexive,
        };

    /// <summary>True when the pair sends from the node's own socket (not through a TURN relay).</summary>
    public bool IsLocalDirect => Local.Type != CandidateType.Relayed;

    /// <inheritdoc />
    public override string ToString() => $"{Local.Type} {Local.EndPoint} -> {Remote.Type} {Remote.EndPoint}";
}
