using System.Globalization;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>The human renderings of the CLI's answers: plain text, stable to snapshot (see <see cref="TextTable"/>).</summary>
internal static class CliText
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Status(TextWriter w, StatusReport r)
    {
        w.WriteLine($"{r.Product} node {r.Node} on {r.Interface} ({r.Mode}) {string.Join(' ', r.Addresses)}".TrimEnd());
        var table = new TextTable("peer", "addresses", "link", "path", "rtt", "sent", "received", "refused");
        foreach (PeerStatusRow p in r.Peers)
        {
            table.Add(p.Peer, Join(p.Addresses), p.Detail ?? p.State, p.Path, Rtt(p.RttMilliseconds), Bytes(p.BytesSent), Bytes(p.BytesReceived), Refused(p));
        }

        table.WriteTo(w);
    }

    public static void Peers(TextWriter w, IReadOnlyList<PeerView> peers)
    {
        if (peers.Count == 0)
        {
            w.WriteLine("no peers");
            return;
        }

        var table = new TextTable("peer", "addresses", "state", "path", "pair", "rtt", "sent", "received", "handshake");
        foreach (PeerView p in peers)
        {
            table.Add(p.Peer, Join(p.Addresses), p.State, p.Path, Pair(p.Local, p.Remote, p.TurnServer), Rtt(p.RttMs), Traffic(p.BytesSent, p.PacketsSent), Traffic(p.BytesReceived, p.PacketsReceived), Age(p.HandshakeAgeSeconds));
        }

        table.WriteTo(w);
    }

    /// <summary>One line per echo: the path it took and its round trip, or why there was no reply.</summary>
    public static string PingLine(PingView p) => p.Replied
        ? $"reply from {p.Peer}: {PathOf(p)}  rtt={Ms(p.RttMs ?? 0)}"
        : $"no reply from {p.Peer}: {p.Error}";

    /// <summary>The path of an echo in words: "direct host A <-> srflx B" or "relayed via TURN T (...)".</summary>
    public static string PathOf(PingView p) => p.Path switch
    {
        "none" => "no path",
        _ => $"{p.Path} {Pair(p.Local, p.Remote, p.TurnServer)}",
    };

    /// <summary>The line printed when consecutive replies took different paths.</summary>
    public static string PathChange(PingView before, PingView now, int pings)
    {
        string verb = (before.Path, now.Path) switch
        {
            ("relayed", "direct") => "upgraded to",
            ("direct", "relayed") => "fell back to",
            _ => "moved to",
        };
        return $"path changed: {verb} {PathOf(now)} after {pings} ping{(pings == 1 ? string.Empty : "s")}";
    }

    public static string PingSummary(string peer, int sent, IReadOnlyList<double> rtts) => rtts.Count == 0
        ? $"--- {peer}: {sent} sent, 0 replied"
        : $"--- {peer}: {sent} sent, {rtts.Count} replied, rtt min/avg/max {Num(rtts.Min())}/{Num(rtts.Average())}/{Num(rtts.Max())} ms";

    public static void NetCheck(TextWriter w, NetCheckView n)
    {
        w.WriteLine($"NAT mapping: {n.Mapping}");
        w.WriteLine($"  {n.MappingDetail}");
        w.WriteLine(n.Ipv6Reachable switch
        {
            true => "IPv6: reachable",
            false => "IPv6: not reachable (no IPv6 STUN server answered)",
            null => "IPv6: not checked (no IPv6 STUN server configured)",
        });
        if (n.Servers.Count == 0)
        {
            w.WriteLine("no STUN or TURN servers are configured");
            return;
        }

        var table = new TextTable("kind", "server", "address", "latency", "mapped", "error");
        foreach (NetCheckServerView s in n.Servers)
        {
            table.Add(s.Kind, s.Server, s.Address ?? "-", s.LatencyMs is { } ms ? Ms(ms) : "-", s.MappedAddress ?? "-", s.Error ?? "-");
        }

        table.WriteTo(w);
    }

    public static void Why(TextWriter w, WhyView y)
    {
        w.WriteLine(y.Path switch
        {
            "none" => $"{y.Peer}: {y.State}, no path",
            _ => $"{y.Peer}: {y.State}, {y.Path} {Pair(y.Local, y.Remote, y.TurnServer)}",
        });
        foreach (string sentence in Explain(y))
        {
            w.WriteLine($"why: {sentence}");
        }

        if (y.LastFailure is not null)
        {
            w.WriteLine($"last failure: {y.LastFailure}{(y.LastFailureDetail is { } d ? ": " + d : string.Empty)}");
        }

        w.WriteLine($"local candidates:  {(y.LocalCandidates.Count == 0 ? "none" : string.Join(", ", y.LocalCandidates))}");
        w.WriteLine($"remote candidates: {(y.RemoteCandidates.Count == 0 ? "none" : string.Join(", ", y.RemoteCandidates))}");
        if (y.Checks.Count == 0)
        {
            w.WriteLine("checks: none ran (the peer's descriptor has no check credentials, e.g. a static peer: the handshake went straight to its endpoint)");
            return;
        }

        w.WriteLine(y.ChecksRunning ? "checks (still running):" : "checks (finished):");
        var table = new TextTable("local", "remote", "result", "sent", "answered", "peer's", "meaning");
        foreach (PairCheckView c in y.Checks)
        {
            table.Add(c.Local.ToString(), c.Remote.ToString(), c.Selected ? c.Outcome + "*" : c.Outcome, Int(c.Sent), Int(c.Answered), Int(c.PeerChecks), Meaning(c, y.ChecksRunning));
        }

        table.WriteTo(w);
        if (y.Checks.Any(c => c.Selected))
        {
            w.WriteLine("* the pair the checks selected");
        }
    }

    /// <summary>The diagnosis in plain sentences.</summary>
    internal static IEnumerable<string> Explain(WhyView y)
    {
        var direct = y.Checks.Where(c => c.Local.Type != "relay" && c.Remote.Type != "relay").ToList();
        bool allDirectFailed = direct.Count > 0 && direct.All(c => c.Outcome == "failed");
        if (y.State == "Connected" && y.Path == "direct")
        {
            yield return "the link is up and direct; nothing holds it back.";
            yield break;
        }

        if (y.State == "Connected" && y.Path == "relayed")
        {
            var unanswered = direct.Where(c => c.Outcome != "succeeded" && c.Answered == 0).ToList();
            if (direct.Count > 0 && unanswered.Count == direct.Count)
            {
                int failed = unanswered.Count(c => c.Outcome == "failed");
                string counts = failed == direct.Count ? $"{direct.Count} failed" : $"{failed} failed, {direct.Count - failed} unanswered when the relay was chosen";
                yield return $"no direct candidate pair was answered ({direct.Count} pair{(direct.Count == 1 ? string.Empty : "s")}: {counts}), so the link goes through the TURN relay.";
                if (direct.All(c => c.PeerChecks == 0))
                {
                    yield return "no check got through in either direction: a NAT on one side maps each destination to another port (symmetric), or a firewall drops the traffic.";
                }
                else
                {
                    yield return "the peer's checks reached this node but no answer to ours came back: this side's NAT or firewall drops the way out, or the peer's drops the way in.";
                }
            }
            else if (direct.Count == 0)
            {
                yield return y.Checks.Count == 0
                    ? "no connectivity checks ran, so nothing chose a direct pair (see the candidates below)."
                    : "no direct candidate pair could be formed (the two sides share no reachable address family), so the link uses the TURN relay.";
            }
            else
            {
                yield return "a direct pair answered but the relay was chosen first; direct candidates are still probed while relayed and the link upgrades when one answers.";
            }

            yield break;
        }

        yield return y.LastFailure is null
            ? $"the link is {y.State.ToLowerInvariant()} and has not failed yet."
            : $"the link is {y.State.ToLowerInvariant()}; it last failed with {y.LastFailure}.";
        if (y.Checks.Count > 0 && y.Checks.All(c => c.Outcome == "failed"))
        {
            yield return $"all {y.Checks.Count} candidate pairs failed their connectivity checks, relayed ones included (is a TURN server configured and reachable on both sides?).";
        }
    }

    /// <summary>What a pair's numbers mean, in words.</summary>
    internal static string Meaning(PairCheckView c, bool running) => c.Outcome switch
    {
        "succeeded" => c.Selected ? "works both ways; in use" : "works both ways",
        _ when c.Sent == 0 => running ? "not checked yet" : "never sent (the checks stopped first)",
        "waiting" or "inprogress" when c.Answered == 0 && c.PeerChecks == 0 => running ? "no answer yet, none of the peer's checks arrived" : "no answer before the checks stopped; none of the peer's checks arrived",
        "waiting" or "inprogress" => "checking",
        _ when c.Answered == 0 && c.PeerChecks == 0 => "nothing got through either way",
        _ when c.Answered == 0 => "the peer's checks arrive, ours are not answered: dropped on the way out",
        _ => "answered from another address, or refused",
    };

    private static string Pair(CandidateView? local, CandidateView? remote, string? turn)
    {
        string pair = local is null || remote is null ? "-" : $"{local} <-> {remote}";
        return turn is null ? pair : $"via TURN {turn} ({pair})";
    }

    private static string Refused(PeerStatusRow p)
    {
        var parts = new List<string>(3);
        if (p.DroppedSpoofed > 0)
        {
            parts.Add($"{Int(p.DroppedSpoofed)} spoofed");
        }

        if (p.DroppedReplayed > 0)
        {
            parts.Add($"{Int(p.DroppedReplayed)} replayed");
        }

        if (p.DroppedUnauthenticated > 0)
        {
            parts.Add($"{Int(p.DroppedUnauthenticated)} unauthenticated");
        }

        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }

    private static string Join(IReadOnlyList<string> items) => items.Count == 0 ? "-" : string.Join(' ', items);

    private static string Rtt(double? ms) => ms is { } v ? Ms(v) : "-";

    private static string Ms(double ms) => ms.ToString("0.0", Invariant) + " ms";

    private static string Num(double v) => v.ToString("0.0", Invariant);

    private static string Int(long v) => v.ToString(Invariant);

    private static string Traffic(long bytes, long packets) => $"{Bytes(bytes)} / {Int(packets)} pkts";

    internal static string Age(double? seconds)
    {
        if (seconds is not { } s)
        {
            return "never";
        }

        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Floor(s)));
        return t.TotalHours >= 1 ? $"{Int((long)t.TotalHours)}h{Int(t.Minutes)}m ago"
            : t.TotalMinutes >= 1 ? $"{Int(t.Minutes)}m{Int(t.Seconds)}s ago"
            : $"{Int(t.Seconds)}s ago";
    }

    internal static string Bytes(long b) => b switch
    {
        < 1024 => $"{Int(b)} B",
        < 1024 * 1024 => (b / 1024.0).ToString("0.0", Invariant) + " KiB",
        _ => (b / (1024.0 * 1024)).ToString("0.0", Invariant) + " MiB",
    };
}
