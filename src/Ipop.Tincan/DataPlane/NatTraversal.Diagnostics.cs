namespace Ipop.Tincan.DataPlane;

/// <summary>What diagnostics read of the gathered candidates.</summary>
internal sealed partial class NatTraversal
{
    /// <summary>The server-reflexive candidates of the last gathering (empty before one answered).</summary>
    internal IReadOnlyList<Candidate> ServerReflexiveCandidates => _srflx;
}
