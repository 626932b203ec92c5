namespace Ipop.Tincan.Diagnostics;

/// <summary>The connectivity checks on one candidate pair (RFC 8445 section 7).</summary>
/// <param name="Local">This side's candidate (the socket's base, or our relay).</param>
/// <param name="Remote">The peer's candidate.</param>
/// <param name="Outcome">Where the pair's checks stand.</param>
/// <param name="Sent">Checks sent on the pair, retransmissions included.</param>
/// <param name="Answered">Authenticated answers from the checked address.</param>
/// <param name="PeerChecks">Checks from the peer that arrived on the pair.</param>
/// <param name="Selected">True for the pair the checks selected.</param>
public sealed record PairCheckReport(Candidate Local, Candidate Remote, PairCheckOutcome Outcome, int Sent, int Answered, int PeerChecks, bool Selected);

/// <summary>Where a candidate pair's checks stand.</summary>
public enum PairCheckOutcome
{
    /// <summary>Not checked yet.</summary>
    Waiting,

    /// <summary>A check is in flight.</summary>
    InProgress,

    /// <summary>A check was answered: the pair works both ways.</summary>
    Succeeded,

    /// <summary>Every check timed out or was refused.</summary>
    Failed,
}
