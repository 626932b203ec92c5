namespace Ipop.Tincan.Diagnostics;

/// <summary>One link as <c>peers</c> and <c>why</c> show it (see <see cref="LinkDiagnostics.DescribeAsync"/>).</summary>
/// <param name="Peer">The peer.</param>
/// <param name="Status">State, path and failure reason now.</param>
/// <param name="Path">The path kind in use; <see cref="LinkPath.None"/> unless connected.</param>
/// <param name="Local">This side's candidate of the pair in use, or null.</param>
/// <param name="Remote">The peer's candidate of the pair in use, or null.</param>
/// <param name="TurnServer">The TURN server the link is relayed through (<c>address:port</c>), or null.</param>
/// <param name="RoundTrip">The last measured round trip, or null.</param>
/// <param name="Traffic">Payload bytes and packets each way.</param>
/// <param name="SinceHandshake">Age of the session in use (the last completed handshake), or null without one.</param>
/// <param name="SinceReceived">Time since the last authenticated packet, or null.</param>
/// <param name="LastFailure">The last time the link failed (it may have recovered since), or null.</param>
/// <param name="LocalCandidates">This node's candidates: the socket's bases, server-reflexive and relayed.</param>
/// <param name="RemoteCandidates">The peer's candidates from its descriptor.</param>
/// <param name="Checks">Connectivity checks per pair: the running ones, or the outcome of the last run.</param>
/// <param name="ChecksRunning">True while the checks still run.</param>
public sealed record LinkReport(
    PeerId Peer,
    LinkStatus Status,
    LinkPath Path,
    Candidate? Local,
    Candidate? Remote,
    string? TurnServer,
    TimeSpan? RoundTrip,
    LinkTraffic Traffic,
    TimeSpan? SinceHandshake,
    TimeSpan? SinceReceived,
    LinkStatus? LastFailure,
    IReadOnlyList<Candidate> LocalCandidates,
    IReadOnlyList<Candidate> RemoteCandidates,
    IReadOnlyList<PairCheckReport> Checks,
    bool ChecksRunning);

/// <summary>Payload traffic of a link each way.</summary>
/// <param name="BytesSent">Payload bytes sent.</param>
/// <param name="BytesReceived">Payload bytes received and authenticated.</param>
/// <param name="PacketsSent">Data packets sent.</param>
/// <param name="PacketsReceived">Data packets received and authenticated.</param>
public sealed record LinkTraffic(long BytesSent, long BytesReceived, long PacketsSent, long PacketsReceived);
