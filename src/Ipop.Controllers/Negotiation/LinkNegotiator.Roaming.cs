using Ipop.Controllers.Negotiation;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// Our candidates changed (Tincan's <see cref="ITincan.LocalCandidatesChanged"/>: a new underlay address, a replaced
/// relay): every linked peer gets the new descriptor at once, through the usual exchange, so both sides bind each
/// other's current candidates. Offers go from the initiator; the other side asks for one, and its answer carries its
/// own descriptor. A link that still works is updated in place (<see cref="Bind"/>), so its session carries on.
/// </summary>
public sealed partial class LinkNegotiator
{
    private static readonly TimeSpan ReannounceWindow = TimeSpan.FromMinutes(2);

    // A request this soon after our offer crossed it; later, the offer is taken as lost (LinkNegotiator.Exchange).
    private static readonly TimeSpan CrossingWindow = TimeSpan.FromSeconds(2);

    // How long after a request that crossed our offer its answer may take before the offer counts as lost.
    private static readonly TimeSpan CrossedRequestWait = TimeSpan.FromSeconds(1);

    private void OnLocalCandidatesChanged(object? sender, EventArgs e) => _events.Writer.TryWrite(CandidatesChangedEvent.Instance);

    // When our candidates last changed: a move often breaks the signaling connection too (its TCP connection left
    // from the old address), so what was sent just before a reconnect is sent again after it.
    private DateTimeOffset? _candidatesChangedAt;

    private async Task HandleCandidatesChangedAsync(CancellationToken ct)
    {
        // The signaling connection may have left from the address that just vanished: have it checked now rather
        // than at its next keepalive (up to Xmpp:KeepaliveInterval, 30 s by default), so the announcement below or
        // the one after the reconnect reaches the peers in seconds.
        _signaling.VerifyConnectionNow();
        _candidatesChangedAt = _time.GetUtcNow();
        await AnnounceCandidatesAsync(ct);
    }

    // After a reconnect: announce again if our candidates changed shortly before (the announcement may have gone into
    // the dead connection).
    private async Task ReannounceAfterReconnectAsync(DateTimeOffset now, CancellationToken ct)
    {
        if (_candidatesChangedAt is { } at && now - at < ReannounceWindow)
        {
            await AnnounceCandidatesAsync(ct);
        }
    }

    private async Task AnnounceCandidatesAsync(CancellationToken ct)
    {
        if (!_signaling.IsConnected)
        {
            return; // the reconnect announces
        }

        foreach (Peer p in _peers.Values.ToList())
        {
            if (p.Link is null || p.Unverified)
            {
                continue; // no link yet: its own attempt sends the current descriptor
            }

            LogReannounce(_logger, p.Id.Value);
            await AnnounceToAsync(p, ct);
        }
    }

    // The initiator offers its current descriptor; the other side asks for an offer (the answer carries its own).
    private async Task AnnounceToAsync(Peer p, CancellationToken ct)
    {
        if (p.IsInitiator)
        {
            await OfferAsync(p, ct);
        }
        else
        {
            await SendAsync(p, LinkNegotiationMessage.RequestKind, null, ct);
        }
    }

    [LoggerMessage(118, LogLevel.Information, "our candidates changed: sending the new descriptor to {Peer}")]
    private static partial void LogReannounce(ILogger logger, string peer);

    private sealed class CandidatesChangedEvent
    {
        public static CandidatesChangedEvent Instance { get; } = new();
    }
}
