using Ipop.Tincan;
using Ipop.Tincan.Diagnostics;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>
/// The host side of the status socket: answers each <see cref="CliRequest"/> from the running node. Peers are the
/// node's links; their overlay addresses come from the host's <see cref="StatusReport"/> (the controller knows them).
/// </summary>
internal sealed class NodeDiagnostics(Func<StatusReport> status, ITincan? tincan, TincanOptions? options)
{
    /// <summary>Longest ping or netcheck wait a client may ask for.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan DefaultPingTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DefaultNetCheckTimeout = TimeSpan.FromSeconds(3);

    public async Task<CliResponse> HandleAsync(CliRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await AnswerAsync(request, cancellationToken);
        }
        catch (TimeoutException)
        {
            return CliResponse.Failure("the node did not answer in time (its control loop is busy)");
        }
    }

    private async Task<CliResponse> AnswerAsync(CliRequest request, CancellationToken cancellationToken)
    {
        switch (request.Command)
        {
            case "status":
                return new CliResponse(CliResponse.Name, Status: status());
            case "peers":
                return new CliResponse(CliResponse.Name, Peers: await PeersAsync(cancellationToken));
            case "ping":
            case "why":
                if (string.IsNullOrWhiteSpace(request.Peer))
                {
                    return CliResponse.Failure($"{request.Command} needs a peer");
                }

                if (FindLink(request.Peer, out string? notFound) is not { } link)
                {
                    return CliResponse.Failure(notFound!);
                }

                return request.Command == "ping"
                    ? new CliResponse(CliResponse.Name, Ping: await PingAsync(link, Timeout(request, DefaultPingTimeout), cancellationToken))
                    : new CliResponse(CliResponse.Name, Why: Why(await LinkDiagnostics.DescribeAsync(link, cancellationToken)));
            case "netcheck":
                return await NetCheckAsync(Timeout(request, DefaultNetCheckTimeout), cancellationToken);
            default:
                return CliResponse.Failure($"unknown command '{request.Command}' (known: status, peers, ping, why, netcheck)");
        }
    }

    private static TimeSpan Timeout(CliRequest request, TimeSpan fallback) =>
        request.TimeoutMs is > 0 and var ms ? TimeSpan.FromMilliseconds(Math.Min(ms, MaxTimeout.TotalMilliseconds)) : fallback;

    private async Task<IReadOnlyList<PeerView>> PeersAsync(CancellationToken cancellationToken)
    {
        if (tincan is null)
        {
            return [];
        }

        Dictionary<string, PeerStatusRow> rows = RowsByPeer();
        var peers = new List<PeerView>();
        foreach (ITincanLink link in tincan.Links.OrderBy(l => l.Peer.Value, StringComparer.Ordinal))
        {
            LinkReport r = await LinkDiagnostics.DescribeAsync(link, cancellationToken);
            peers.Add(new PeerView(
                link.Peer.Value,
                rows.TryGetValue(link.Peer.Value, out PeerStatusRow? row) ? row.Addresses : [],
                r.Status.State.ToString(),
                PathWord(r.Path),
                r.Path.ToString(),
                CandidateView.From(r.Local),
                CandidateView.From(r.Remote),
                r.TurnServer,
                r.RoundTrip?.TotalMilliseconds,
                r.Traffic.BytesSent,
                r.Traffic.BytesReceived,
                r.Traffic.PacketsSent,
                r.Traffic.PacketsReceived,
                r.SinceHandshake?.TotalSeconds,
                r.SinceReceived?.TotalSeconds));
        }

        return peers;
    }

    private Dictionary<string, PeerStatusRow> RowsByPeer()
    {
        var rows = new Dictionary<string, PeerStatusRow>(StringComparer.Ordinal);
        foreach (PeerStatusRow row in status().Peers)
        {
            rows.TryAdd(row.Peer, row);
        }

        return rows;
    }

    /// <summary>A peer by its id, or by one of its overlay addresses (with or without the prefix length).</summary>
    private ITincanLink? FindLink(string name, out string? error)
    {
        error = null;
        IReadOnlyCollection<ITincanLink> links = tincan?.Links ?? [];
        foreach (ITincanLink link in links)
        {
            if (string.Equals(link.Peer.Value, name, StringComparison.Ordinal))
            {
                return link;
            }
        }

        foreach (PeerStatusRow row in status().Peers)
        {
            if (row.Addresses.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase) || string.Equals(a.Split('/')[0], name, StringComparison.OrdinalIgnoreCase))
                && links.FirstOrDefault(l => l.Peer.Value == row.Peer) is { } byAddress)
            {
                return byAddress;
            }
        }

        error = links.Count == 0
            ? $"no peer '{name}': this node has no links"
            : $"no peer '{name}' (peers: {string.Join(", ", links.Select(l => l.Peer.Value).Order(StringComparer.Ordinal))})";
        return null;
    }

    private static async Task<PingView> PingAsync(ITincanLink link, TimeSpan timeout, CancellationToken cancellationToken)
    {
        EchoResult e = await LinkDiagnostics.EchoAsync(link, timeout, cancellationToken);
        return new PingView(link.Peer.Value, e.Replied, e.RoundTrip?.TotalMilliseconds, PathWord(e.Path), CandidateView.From(e.Local), CandidateView.From(e.Remote), e.TurnServer, e.Error);
    }

    internal static WhyView Why(LinkReport r) => new(
        r.Peer.Value,
        r.Status.State.ToString(),
        PathWord(r.Path),
        CandidateView.From(r.Local),
        CandidateView.From(r.Remote),
        r.TurnServer,
        r.LastFailure?.Reason.ToString(),
        r.LastFailure?.Detail,
        [.. r.LocalCandidates.Select(c => CandidateView.From(c)!)],
        [.. r.RemoteCandidates.Select(c => CandidateView.From(c)!)],
        [.. r.Checks.Select(c => new PairCheckView(CandidateView.From(c.Local)!, CandidateView.From(c.Remote)!, c.Outcome.ToString().ToLowerInvariant(), c.Sent, c.Answered, c.PeerChecks, c.Selected))],
        r.ChecksRunning);

    private async Task<CliResponse> NetCheckAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (options is null)
        {
            return CliResponse.Failure("netcheck: this node has no Tincan options");
        }

        try
        {
            NetCheckReport report = await NetCheck.RunAsync(options, timeout, cancellationToken);
            return new CliResponse(CliResponse.Name, NetCheck: new NetCheckView(
                MappingWord(report.Mapping),
                report.MappingDetail,
                report.Ipv6Reachable,
                [.. report.Servers.Select(s => new NetCheckServerView(s.Kind, s.Server, s.Address, s.RoundTrip?.TotalMilliseconds, s.MappedAddress, s.Error))]));
        }
        catch (NotSupportedException e)
        {
            return CliResponse.Failure($"netcheck is not available in this build: {e.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            return CliResponse.Failure($"netcheck failed: {e.Message}");
        }
    }

    /// <summary>direct, relayed or none.</summary>
    internal static string PathWord(LinkPath path) => path switch
    {
        LinkPath.None => "none",
        LinkPath.Relayed => "relayed",
        _ => "direct",
    };

    internal static string MappingWord(NatMapping mapping) => mapping switch
    {
        NatMapping.NoNat => "no NAT",
        NatMapping.EndpointIndependent => "cone (endpoint-independent)",
        NatMapping.EndpointDependent => "symmetric (endpoint-dependent)",
        _ => "unknown",
    };
}
