using Ipop.Samples.Hosting;

namespace Ipop.TincanHost;

/// <summary>The status report of <c>ipop-tincan</c>: the configured interface, and each link with its peer's allowed addresses.</summary>
internal static class TincanStatus
{
    public static StatusReport Build(HostConfig config, ITincan tincan)
    {
        var links = tincan.Links.ToDictionary(l => l.Peer.Value, StringComparer.Ordinal);
        var rows = new List<PeerStatusRow>();
        foreach (PeerSection peer in config.Peers)
        {
            links.Remove(peer.Id, out ITincanLink? link);
            rows.Add(PeerStatusRow.From(new PeerId(peer.Id), string.Empty, peer.AllowedIps, link?.Status, link?.GetStats()));
        }

        // Links an external controller created through the API socket.
        foreach (ITincanLink link in links.Values.OrderBy(l => l.Peer.Value, StringComparer.Ordinal))
        {
            rows.Add(PeerStatusRow.From(link.Peer, string.Empty, [], link.Status, link.GetStats()));
        }

        return new StatusReport(
            "ipop-tincan",
            tincan.LocalKey.ToString(),
            config.Interface?.Name ?? "-",
            config.Interface?.Mode ?? "-",
            config.Interface?.Addresses ?? [],
            rows);
    }
}
