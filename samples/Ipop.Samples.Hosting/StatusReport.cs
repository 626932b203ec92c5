namespace Ipop.Samples.Hosting;

/// <summary>What <c>status</c> shows: this node and each peer with its link.</summary>
public sealed record StatusReport(string Product, string Node, string Interface, string Mode, IReadOnlyList<string> Addresses, IReadOnlyList<PeerStatusRow> Peers);

/// <summary>One peer row of the status table.</summary>
public sealed record PeerStatusRow(
    string Peer,
    string User,
    IReadOnlyList<string> Addresses,
    string State,
    string Path,
    double? RttMilliseconds,
    long BytesSent,
    long BytesReceived,
    string? Detail,
    long DroppedSpoofed = 0,
    long DroppedReplayed = 0,
    long DroppedUnauthenticated = 0)
{
    /// <summary>Builds a row from a peer and its link (if any).</summary>
    public static PeerStatusRow From(PeerId peer, string user, IEnumerable<string> addresses, LinkStatus? status, LinkStats? stats) => new(
        peer.Value,
        user,
        [.. addresses],
        status?.State.ToString() ?? "NoLink",
        status?.Path.ToString() ?? "None",
        stats?.RoundTripTime?.TotalMilliseconds,
        stats?.BytesSent ?? 0,
        stats?.BytesReceived ?? 0,
        status?.State is LinkState.Failed or LinkState.Closed ? status.ToString() : null,
        stats?.DroppedSpoofed ?? 0,
        stats?.DroppedReplayed ?? 0,
        stats?.DroppedUnauthenticated ?? 0);
}
