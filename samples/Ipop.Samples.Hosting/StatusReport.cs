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
    long DroppedUnauthenticated = 0,
    string? Via = null,
    int? Hops = null,
    long PacketsForwarded = 0)
{
    /// <summary>Builds a row from a peer and its link (if any).</summary>
    /// <param name="peer">The peer.</param>
    /// <param name="user">Its user.</param>
    /// <param name="addresses">Its overlay addresses.</param>
    /// <param name="status">Its link's status, if it has a link.</param>
    /// <param name="stats">Its link's counters, if it has a link.</param>
    /// <param name="via">A structured group's member through which the peer is reached, when there is no direct link.</param>
    /// <param name="hops">With <paramref name="via"/>: the overlay hops to the peer.</param>
    public static PeerStatusRow From(PeerId peer, string user, IEnumerable<string> addresses, LinkStatus? status, LinkStats? stats, PeerId? via = null, int? hops = null) => new(
        peer.Value,
        user,
        [.. addresses],
        status?.State.ToString() ?? (via is null ? "NoLink" : "Forwarded"),
        via is { } v ? ViaText(v, hops) : status?.Path.ToString() ?? "None",
        stats?.RoundTripTime?.TotalMilliseconds,
        stats?.BytesSent ?? 0,
        stats?.BytesReceived ?? 0,
        status?.State is LinkState.Failed or LinkState.Closed ? status.ToString() : null,
        stats?.DroppedSpoofed ?? 0,
        stats?.DroppedReplayed ?? 0,
        stats?.DroppedUnauthenticated ?? 0,
        via?.Value,
        hops,
        stats?.PacketsForwarded ?? 0);

    // "via bob@lab.test/ipop-1, 2 hops": the user part is what people recognise.
    private static string ViaText(PeerId via, int? hops) => hops is { } h
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"via {via.Value}, {h} hop{(h == 1 ? string.Empty : "s")}")
        : $"via {via.Value}";
}
