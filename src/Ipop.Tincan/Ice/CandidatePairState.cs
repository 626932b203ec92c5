namespace Ipop.Tincan.Ice;

/// <summary>RFC 8445 §6.1.2.6 pair states (no Frozen: one component per link, so every foundation is unfrozen at once).</summary>
internal enum CandidatePairState
{
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}
