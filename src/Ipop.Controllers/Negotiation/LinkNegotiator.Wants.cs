using Ipop.Controllers.Negotiation;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// Trusted is not the same as linked (<see cref="ILinkPolicy.WantsLink"/>, issue 16): a structured topology or an
/// on-demand policy trusts every member but links to a few. A link exists while at least one side wants it; only a
/// side that wants it makes attempts and retries. Neither side can know the other's wish, so a side that stops
/// wanting a link says so (<c>ipop-link-release</c>) and removes its end, and the other side removes its end too and,
/// if it wants the link itself, starts its own at once.
/// </summary>
public sealed partial class LinkNegotiator
{
    /// <summary>
    /// On the loop (from <see cref="Post"/>ed work or a policy callback): asks the policy again whether it wants links to
    /// <paramref name="peers"/>, for a policy that knows whose answer changed (a structured re-plan changes a few planned
    /// links; <see cref="RecheckTrust"/> would ask about every peer, O(N) per change). Trust is not re-checked (the
    /// policy's answer about the peer as signaling last reported it is), and peers the negotiator does not know are skipped.
    /// </summary>
    /// <param name="peers">The peers whose wish may have changed.</param>
    /// <param name="cancellationToken">The loop's token.</param>
    /// <returns>A task that completes once every wish was applied.</returns>
    internal async Task RecheckWishesAsync(IReadOnlyList<PeerId> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        if (!_signaling.IsConnected)
        {
            return; // as RecheckTrust: its return re-checks everyone
        }

        foreach (PeerId id in peers)
        {
            if (_peers.TryGetValue(id, out Peer? p) && p.Seen is { } seen)
            {
                await RefreshWantAsync(p, seen, cancellationToken);
            }
        }
    }

    // Signaling reported the trusted peer (or RecheckTrust asked again): a change of wish starts or releases the link.
    private async Task RefreshWantAsync(Peer p, OverlayPeer peer, CancellationToken ct)
    {
        bool wanted = _policy.WantsLink(peer);
        if (wanted == p.Wanted)
        {
            return;
        }

        p.Wanted = wanted;
        if (wanted)
        {
            // A fresh wish, not a failure: no backoff, and the answering side does not wait for an offer that the
            // initiator (which may not want the link) would never send.
            LogWanted(_logger, p.Id.Value);
            p.Failures = 0;
            p.NextAttemptAt = _time.GetUtcNow();
            await EvaluateAsync(p, ct);
            return;
        }

        if (p.Link is null && p.PendingNonce is null)
        {
            LogNotWanted(_logger, p.Id.Value);
            return;
        }

        // The nonce names the newest exchange, so the peer can tell a stale release from one for its link. An offer in
        // flight is newer than the exchange before it (AnsweredNonce stays set from that one): the peer may already have
        // answered it and made its end, and a release naming the older exchange would be ignored there as stale.
        string? nonce = p.PendingNonce ?? p.AnsweredNonce;
        LogReleasing(_logger, p.Id.Value);
        await SendAsync(p, LinkNegotiationMessage.ReleaseKind, nonce, ct);
        DropLink(p, "released: this side no longer wants it");
    }

    private async Task HandleReleaseAsync(Peer p, LinkNegotiationMessage release, CancellationToken ct)
    {
        if ((p.Link is null && p.PendingNonce is null)
            || (release.Nonce is { } nonce && nonce != p.AnsweredNonce && nonce != p.PendingNonce))
        {
            // No link, or the release names an exchange other than the one our link came from (a copy, or one that
            // crossed a newer exchange): the link, if any, stays, and its own liveness decides.
            LogDuplicate(_logger, LinkNegotiationMessage.ReleaseKind, p.Id.Value);
            return;
        }

        DropLink(p, "released by the peer");
        if (p.Wanted)
        {
            // We still want it: our own link, now, with a clean backoff (the peer answers though it does not want it).
            p.Failures = 0;
            p.NextAttemptAt = _time.GetUtcNow();
            await EvaluateAsync(p, ct);
        }
    }

    /// <summary>Removes the peer's link (the peer stays trusted and known, so its offers are still answered).</summary>
    private void DropLink(Peer p, string why)
    {
        ITincanLink? old = p.Link;
        p.Link = null;
        p.Remote = null;
        p.PendingNonce = null;
        p.RequestCrossedAt = null;
        p.EverConnected = false;
        if (old is null)
        {
            return;
        }

        if (_tincan.TryGetLink(p.Id, out ITincanLink? current) && ReferenceEquals(current, old))
        {
            _tincan.RemoveLink(p.Id);
        }

        _policy.OnLinkReplaced(p.Id, old);
        LogLinkDropped(_logger, p.Id.Value, why);
    }

    [LoggerMessage(121, LogLevel.Information, "peer {Peer} is trusted, but this side does not want a link to it: its offers are answered, nothing is started or retried from here")]
    private static partial void LogNotWanted(ILogger logger, string peer);

    [LoggerMessage(122, LogLevel.Information, "peer {Peer}: this side now wants a link to it")]
    private static partial void LogWanted(ILogger logger, string peer);

    [LoggerMessage(123, LogLevel.Information, "peer {Peer}: this side no longer wants its link; releasing it")]
    private static partial void LogReleasing(ILogger logger, string peer);

    [LoggerMessage(124, LogLevel.Information, "link {Peer} removed: {Reason}")]
    private static partial void LogLinkDropped(ILogger logger, string peer, string reason);
}
