using Ipop.Controllers.Negotiation;

namespace Ipop.Controllers;

/// <summary>
/// Signaling outages: links are kept while signaling is down (for the outage link lifetime at most), and on its
/// return every peer is re-checked against signaling's current view and retried at once; peers not back yet keep
/// their working link until the reconnect grace ends.
/// </summary>
public sealed partial class LinkNegotiator
{
    private async Task HandleConnectionAsync(SignalingConnectionEventArgs e, CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (!e.IsConnected)
        {
            _outageSince ??= now;
            LogSignalingLost(_logger, e.Reason ?? "unknown", _peers.Count, _settings.OutageLinkLifetime.TotalSeconds);
            return;
        }

        if (_outageSince is not { } since)
        {
            return; // the first connect (RunAsync handles the peers then), or a repeated report
        }

        LogSignalingBack(_logger, (now - since).TotalSeconds, _outageEnded);
        _outageSince = null;
        _outageEnded = false;

        // Reconcile: what changed while we were away is decided now, against signaling's current view; peers not
        // (yet) back get a grace period.
        _graceUntil = now + (_settings.ReconnectGrace < _settings.OutageLinkLifetime ? _settings.ReconnectGrace : _settings.OutageLinkLifetime);
        var current = _signaling.Peers.ToDictionary(x => x.Id);
        foreach (Peer p in _peers.Values)
        {
            // Whatever backoff was running, try again now: the outage, not the peer, was the obstacle.
            p.NextAttemptAt = now;
            p.PendingNonce = null;
        }

        foreach (PeerId id in _peers.Keys.ToList())
        {
            await HandlePeerAsync(current.GetValueOrDefault(id) ?? new OverlayPeer(id, string.Empty, PeerPresence.Offline, PeerRelationship.None, []), ct);
        }

        foreach (OverlayPeer peer in current.Values)
        {
            await HandlePeerAsync(peer, ct);
        }

        foreach (Peer p in _peers.Values.ToList())
        {
            await EvaluateAsync(p, ct);
        }

        await ReannounceAfterReconnectAsync(now, ct);

        // A reset connection can mean the network moved without any local address changing (a NAT's public address
        // changed under an idle node): links announce themselves from wherever we are now, so the peers follow, and
        // candidates are gathered again (a changed one comes back as LocalCandidatesChanged and is announced).
        _tincan.CheckNetworkNow();
    }

    /// <summary>Ends every link once signaling has been down for <see cref="NegotiationSettings.OutageLinkLifetime"/> (once per outage).</summary>
    private void EndOutageLinksIfTooLong(DateTimeOffset now)
    {
        if (_outageSince is { } since && !_outageEnded && now - since >= _settings.OutageLinkLifetime)
        {
            _outageEnded = true;
            LogOutageLinksEnded(_logger, _peers.Count, (now - since).TotalSeconds);
            foreach (PeerId id in _peers.Keys.ToList())
            {
                Forget(id, "unknown (signaling down)", "not re-checked");
            }
        }
    }

    /// <summary>When the reconnect grace is over: keeps the peers that came back trusted and forgets the others.</summary>
    private void EndGraceIfOver(DateTimeOffset now)
    {
        if (_graceUntil is { } until && now >= until)
        {
            _graceUntil = null;
            var current = _signaling.Peers.ToDictionary(x => x.Id);
            foreach (Peer p in _peers.Values.Where(p => p.Unverified).ToList())
            {
                OverlayPeer? peer = current.GetValueOrDefault(p.Id);
                if (peer is not null && _policy.IsTrusted(peer))
                {
                    p.Unverified = false;
                }
                else
                {
                    Forget(p.Id, peer?.Presence.ToString() ?? "absent", "not back after the outage");
                }
            }
        }
    }
}
