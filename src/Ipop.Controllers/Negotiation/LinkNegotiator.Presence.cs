using Ipop.Controllers.Negotiation;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// A short absence is not a departure: a peer whose signaling session merely ended (signaling says so with
/// <see cref="OverlayPeerEventArgs.SessionEnded"/>; a moving network resets its connection, and it logs in again
/// moments later) keeps a Connected link for <see cref="NegotiationSettings.PresenceGrace"/>. Removing and re-creating
/// the link would throw away a session that still works and bind the peer's stale candidates (after a NAT changed
/// its public address, the old server-reflexive one), while the kept link follows the peer's packets from its new
/// address. A removal (kick, ban, revoked membership, unfriending) still ends the link at once.
/// </summary>
public sealed partial class LinkNegotiator
{
    private Task HandlePeerChangedAsync(OverlayPeerEventArgs e, CancellationToken ct)
    {
        OverlayPeer peer = e.Current;
        if (e.SessionEnded && peer.Presence != PeerPresence.Online && _signaling.IsConnected
            && _peers.TryGetValue(peer.Id, out Peer? known) && known.Link is { Status.State: LinkState.Connected }
            && _settings.PresenceGrace > TimeSpan.Zero && !MovedWithin(_settings.PresenceGrace)
            && ReplacementOf(peer.Id) is null)
        {
            if (known.AwayUntil is null)
            {
                // Unverified: no attempts, no announcements to it while it is away (EvaluateAsync, AnnounceCandidatesAsync).
                known.AwayUntil = _time.GetUtcNow() + _settings.PresenceGrace;
                _awayCount++;
                known.Unverified = true;
                LogAway(_logger, peer.Id.Value, _settings.PresenceGrace.TotalSeconds);
                _policy.OnPeerAway(peer.Id, away: true);
            }

            return Task.CompletedTask;
        }

        return HandlePeerAsync(peer, ct);
    }

    // When we moved too (both sides renumbered at once), the kept link knows neither side's new candidates and waits
    // for descriptors that cross while both sessions come back: re-creating it with fresh ones is faster (3.4 s
    // against 9-21 s measured), so the grace is only for a peer that moved alone.
    private bool MovedWithin(TimeSpan window) => _candidatesChangedAt is { } at && _time.GetUtcNow() - at < window;

    // HandlePeerAsync: an away peer is trusted (online, still a member or friend) again. Whatever we sent it while it
    // was away is lost (a descriptor after our own move, say: both sides renumbered at once), so it gets our current
    // descriptor again; one message per flap.
    private async Task ReturnedFromAbsenceAsync(Peer p, CancellationToken ct)
    {
        if (p.AwayUntil is { } until)
        {
            p.AwayUntil = null;
            _awayCount--;
            LogBack(_logger, p.Id.Value, (_settings.PresenceGrace - (until - _time.GetUtcNow())).TotalSeconds);
            _policy.OnPeerAway(p.Id, away: false);
            if (p.Link is not null && _signaling.IsConnected)
            {
                await AnnounceToAsync(p, ct);
            }
        }
    }

    /// <summary>
    /// Each tick: an away peer whose grace is over, or whose link stopped being Connected meanwhile, is decided against
    /// signaling's current view: kept if trusted again, forgotten otherwise.
    /// </summary>
    private void EndPresenceGraceIfOver(DateTimeOffset now)
    {
        if (!_signaling.IsConnected)
        {
            return; // our own outage: its rules (outage lifetime, reconnect grace) decide
        }

        List<Peer>? due = null;
        foreach (Peer p in _peers.Values)
        {
            if (p.AwayUntil is { } until && (now >= until || p.Link is not { Status.State: LinkState.Connected }))
            {
                (due ??= []).Add(p);
            }
        }

        if (due is null)
        {
            return;
        }

        var current = _signaling.Peers.ToDictionary(x => x.Id);
        foreach (Peer p in due)
        {
            p.AwayUntil = null;
            _awayCount--;
            OverlayPeer? peer = current.GetValueOrDefault(p.Id);
            if (peer is not null && _policy.IsTrusted(peer))
            {
                p.Unverified = false;
            }
            else if (_graceUntil is null)
            {
                Forget(p.Id, peer?.Presence.ToString() ?? "absent", "not back within the presence grace");
                continue;
            }

            // Kept: no longer away (during the grace after our own reconnect it stays Unverified, and EndGraceIfOver
            // decides), so the policy lets it carry others' traffic again.
            _policy.OnPeerAway(p.Id, away: false);
        }
    }

    // Our XMPP client keeps its resource across reconnects, so a session that merely moved comes back under the same
    // id. Another session of the same account is the node restarted (a crash, an upgrade) under a new resource, and
    // the old one will not come back: holding it for the grace kept its addresses from the new session at every
    // member that had a link to it (the new session was refused as a claimant of its own address), and those members
    // dropped what they forwarded to it for 15 s (the 32-member lab measured 15 s to be reached again). Someone with
    // the account's password but not the node's key ends only a session that had ended anyway.

    /// <summary>A new session of <paramref name="peer"/>'s account: sessions of that account kept only for the presence grace end now.</summary>
    private void EndAwaySessionsReplacedBy(PeerId peer)
    {
        if (_awayCount == 0)
        {
            return; // the common case costs nothing: a group of N members sees N sessions come online
        }

        List<PeerId>? replaced = null;
        foreach (Peer p in _peers.Values)
        {
            if (p.AwayUntil is not null && p.Id != peer && SameAccount(p.Id, peer))
            {
                (replaced ??= []).Add(p.Id);
            }
        }

        foreach (PeerId old in replaced ?? [])
        {
            Forget(old, "Offline", $"replaced by its restarted session {peer.Value}");
        }
    }

    /// <summary>A trusted session of <paramref name="peer"/>'s account other than itself, that is not away.</summary>
    private PeerId? ReplacementOf(PeerId peer)
    {
        foreach (Peer p in _peers.Values)
        {
            if (p.Id != peer && p.AwayUntil is null && !p.Unverified && SameAccount(p.Id, peer))
            {
                return p.Id;
            }
        }

        return null;
    }

    [LoggerMessage(119, LogLevel.Information, "peer {Peer} went offline (its session ended, membership unchanged): its connected link stays for up to {GraceSeconds:0} s while it reconnects")]
    private static partial void LogAway(ILogger logger, string peer, double graceSeconds);

    [LoggerMessage(120, LogLevel.Information, "peer {Peer} is back after {Seconds:0.0} s: its link was kept")]
    private static partial void LogBack(ILogger logger, string peer, double seconds);
}
