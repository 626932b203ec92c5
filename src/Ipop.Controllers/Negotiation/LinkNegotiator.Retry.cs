using Ipop.Controllers.Negotiation;

namespace Ipop.Controllers;

/// <summary>
/// Liveness: link status changes and the deadline timer (LinkNegotiator.Deadlines) decide, per peer, whether its link
/// is stuck and start a new attempt once its backoff (exponential, capped, with jitter) has passed.
/// </summary>
public sealed partial class LinkNegotiator
{
    private async Task HandleLinkStatusAsync(LinkStatusChangedEventArgs e, CancellationToken ct)
    {
        if (!_peers.TryGetValue(e.Link.Peer, out Peer? p) || !ReferenceEquals(p.Link, e.Link))
        {
            return; // a link object we already replaced
        }

        LinkStatus s = e.Current;
        if (s.State == LinkState.Connected)
        {
            p.Failures = 0;
            p.EverConnected = true;
            LogLinkUp(_logger, p.Id.Value, s.Path.ToString());
        }
        else if (s.State is LinkState.Failed or LinkState.Closed)
        {
            LogLinkFailed(_logger, p.Id.Value, s.ToString());
            if (!p.Wanted)
            {
                // The peer started it and retries it if it still wants it; this side only answers.
                DropLink(p, "it ended, and this side does not want it: the peer retries if it does");
                return;
            }

            await EvaluateAsync(p, ct);
        }
    }

    private async Task HandleTickAsync(CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        _armedFor = DateTimeOffset.MaxValue; // fired (or about to be re-armed from what is due next)
        _lastTickAt = now;
        EndOutageLinksIfTooLong(now);
        EndGraceIfOver(now);
        EndPresenceGraceIfOver(now);

        foreach (Peer p in _peers.Values.ToList())
        {
            await EvaluateAsync(p, ct);
        }

        TickPolicyIfDue(now);
    }

    /// <summary>Starts a new attempt for <paramref name="p"/> if its link is not up or on its way up and its backoff has passed.</summary>
    private async Task EvaluateAsync(Peer p, CancellationToken ct)
    {
        if (!_signaling.IsConnected || p.Unverified || !_peers.ContainsKey(p.Id))
        {
            return; // nothing can be sent; the reconnect resumes at once
        }

        if (!p.Wanted)
        {
            return; // the peer makes the attempts for a link only it wants
        }

        DateTimeOffset now = _time.GetUtcNow();
        string? why = StuckReason(p, now);
        if (why is null || now < p.NextAttemptAt)
        {
            return;
        }

        p.Failures++;
        double seconds = Math.Min(_settings.RetryMin.TotalSeconds * Math.Pow(2, Math.Min(p.Failures - 1, 30)), _settings.RetryMax.TotalSeconds);

        // Jitter spreads the retries of many peers that failed together (a restarted relay, a lost server).
        seconds = Math.Min(seconds * (0.75 + (0.5 * Jitter.NextDouble())), _settings.RetryMax.TotalSeconds);
        p.NextAttemptAt = now + TimeSpan.FromSeconds(seconds);
        if (p.Failures > 1 || p.Link is not null)
        {
            LogRetry(_logger, p.Id.Value, why, p.Failures, seconds);
        }

        if (p.IsInitiator)
        {
            await OfferAsync(p, ct);
        }
        else
        {
            p.Requested = true;
            await SendAsync(p, LinkNegotiationMessage.RequestKind, null, ct);
        }
    }

    /// <summary>Why the peer's link needs a new attempt, or <c>null</c> while it is up or on its way up.</summary>
    private string? StuckReason(Peer p, DateTimeOffset now)
    {
        if (p.PendingNonce is not null)
        {
            TimeSpan waited = now - p.PendingSince;
            if (waited >= _settings.AnswerTimeout)
            {
                return "no answer to our offer";
            }

            // Two nodes that moved at once both announce right after their signaling sessions come back; an offer sent
            // a moment before the peer's session was up is lost (the server still routed it to the dead session), and
            // its request then looks like a crossing one. An offer that had crossed is answered one server round trip
            // after the request came: with no answer a second later, send it again instead of waiting out the timeout
            // (the lab measured 8 s of recovery with a 4 s wait here, 3 s when the sessions came back the other way round).
            // A crossing answer that comes later still is only a late one: it is ignored, and the new offer binds.
            return p.RequestCrossedAt is { } crossed && now - crossed >= CrossedRequestWait ? "no answer to our offer, though the peer asked for one" : null;
        }

        if (p.Link is null)
        {
            return "no link yet";
        }

        if (!_tincan.TryGetLink(p.Id, out ITincanLink? current) || !ReferenceEquals(current, p.Link))
        {
            return "link removed underneath";
        }

        LinkStatus s = p.Link.Status;
        return s.State switch
        {
            LinkState.Connected => null,
            LinkState.Connecting when now - p.LinkSince < _settings.ConnectTimeout => null,
            LinkState.Connecting => $"still connecting after {(now - p.LinkSince).TotalSeconds:0} s",
            _ => s.ToString(),
        };
    }
}
