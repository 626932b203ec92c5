using System.Security.Cryptography;
using Ipop.Controllers.Negotiation;

namespace Ipop.Controllers;

/// <summary>
/// The exchange itself: offers, answers and requests, the nonces that tie an answer to our offer, and the
/// binding of a peer's key and candidates to its link (which also decides who keeps a key two peers claim).
/// </summary>
public sealed partial class LinkNegotiator
{
    private async Task HandleMessageAsync(PeerId from, OverlayMessage message, CancellationToken ct)
    {
        OverlayPeer? peer = _signaling.Peers.FirstOrDefault(p => p.Id == from);
        if (!message.Kind.StartsWith("ipop-", StringComparison.Ordinal) && await _policy.OnOtherMessageAsync(peer, message, ct))
        {
            return; // a controller's own protocol: the policy took it
        }

        if (peer is null || !_policy.IsTrusted(peer))
        {
            Refuse(from, message.Kind, "not a trusted online peer");
            return;
        }

        if (!_peers.TryGetValue(from, out Peer? p))
        {
            await HandlePeerAsync(peer, ct);
            if (!_peers.TryGetValue(from, out p))
            {
                return; // trust changed while we looked: nothing to negotiate
            }
        }

        LinkNegotiationMessage parsed;
        try
        {
            parsed = LinkNegotiationMessage.Parse(message.Body);
        }
        catch (FormatException e)
        {
            Refuse(from, message.Kind, e.Message);
            return;
        }

        switch (message.Kind)
        {
            case LinkNegotiationMessage.OfferKind:
                await HandleOfferAsync(p, parsed, ct);
                break;
            case LinkNegotiationMessage.AnswerKind:
                await HandleAnswerAsync(p, parsed, ct);
                break;
            case LinkNegotiationMessage.RequestKind:
                await HandleRequestAsync(p, ct);
                break;
            case LinkNegotiationMessage.ReleaseKind:
                await HandleReleaseAsync(p, parsed, ct);
                break;
            case LinkNegotiationMessage.AddressKind:
                await _policy.OnClaimsAsync(from, parsed, p.Link, ct);
                break;
            default:
                Refuse(from, message.Kind, "unknown kind");
                break;
        }
    }

    private async Task HandleOfferAsync(Peer p, LinkNegotiationMessage offer, CancellationToken ct)
    {
        if (p.IsInitiator)
        {
            Refuse(p.Id, LinkNegotiationMessage.OfferKind, "this node offers to that peer (its id sorts lower), it only answers");
            return;
        }

        if (offer.Descriptor is null || offer.Nonce is null)
        {
            Refuse(p.Id, LinkNegotiationMessage.OfferKind, "an offer needs a descriptor and a nonce");
            return;
        }

        if (offer.Nonce == p.AnsweredNonce)
        {
            LogDuplicate(_logger, LinkNegotiationMessage.OfferKind, p.Id.Value);
            return;
        }

        if (!Bind(p, offer.Descriptor, LinkNegotiationMessage.OfferKind))
        {
            return;
        }

        p.AnsweredNonce = offer.Nonce;
        await _policy.OnClaimsAsync(p.Id, offer, p.Link, ct);
        await SendAsync(p, LinkNegotiationMessage.AnswerKind, offer.Nonce, ct);
        bool requested = p.Requested;
        p.Requested = false;
        if (requested && !p.Wanted)
        {
            // We asked for this offer while we wanted the link, and stopped wanting it before the offer came (a re-plan
            // while a group comes online): the initiator may have offered only because we asked, and neither side would
            // ever release a link nobody wants. Released now; if the initiator wants it after all, it offers again at
            // once and that offer is kept.
            LogReleasing(_logger, p.Id.Value);
            await SendAsync(p, LinkNegotiationMessage.ReleaseKind, offer.Nonce, ct);
            DropLink(p, "released: asked for while wanted, no longer wanted when the offer came");
        }
    }

    private async Task HandleAnswerAsync(Peer p, LinkNegotiationMessage answer, CancellationToken ct)
    {
        if (answer.Nonce is not null && answer.Nonce != p.PendingNonce && (answer.Nonce == p.AnsweredNonce || _offered.Contains((p.Id, answer.Nonce))))
        {
            // A copy, or the late answer to an offer we gave up on: the exchange it belonged to is over.
            LogDuplicate(_logger, LinkNegotiationMessage.AnswerKind, p.Id.Value);
            if (answer.Nonce != p.AnsweredNonce && p.Link is null && p.PendingNonce is null)
            {
                // The peer made its end for that offer, and we hold none and start none: without a word it would keep a
                // link that handshakes into our refusals until it gives up (93 s). If a newer exchange reached it
                // first, the release names an older one and is ignored there.
                await SendAsync(p, LinkNegotiationMessage.ReleaseKind, answer.Nonce, ct);
            }

            return;
        }

        if (!p.IsInitiator || p.PendingNonce is null || answer.Nonce != p.PendingNonce)
        {
            // Only the answer to the offer we are waiting on may bind a key: otherwise any member could bind
            // someone else's key to itself and make the owner's own offer fail.
            Refuse(p.Id, LinkNegotiationMessage.AnswerKind, "unsolicited: no offer of ours is waiting for this answer");
            return;
        }

        if (answer.Descriptor is null)
        {
            Refuse(p.Id, LinkNegotiationMessage.AnswerKind, "an answer needs a descriptor");
            return;
        }

        p.PendingNonce = null;
        p.AnsweredNonce = answer.Nonce;
        if (Bind(p, answer.Descriptor, LinkNegotiationMessage.AnswerKind))
        {
            await _policy.OnClaimsAsync(p.Id, answer, p.Link, ct);
        }
    }

    private async Task HandleRequestAsync(Peer p, CancellationToken ct)
    {
        if (!p.IsInitiator)
        {
            Refuse(p.Id, LinkNegotiationMessage.RequestKind, "that peer offers to this node (its id sorts lower)");
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (p.PendingNonce is not null && now - p.PendingSince < CrossingWindow)
        {
            // An offer is already on its way: crossing or duplicated requests must not start a second exchange. A
            // request well after our offer means the offer was lost (often into a signaling connection that died
            // under a node that moved): a fresh offer then, rather than the rest of the answer timeout.
            LogDuplicate(_logger, LinkNegotiationMessage.RequestKind, p.Id.Value);
            p.RequestCrossedAt ??= now;
            return;
        }

        // The peer has no usable link (it restarted, or its side failed): offer at once, without counting a failure.
        await OfferAsync(p, ct);
    }

    // "alice@lab.test/ipop-1" and "alice@lab.test/ipop-2": two sessions of one account (for XMPP, the bare JID).
    private static bool SameAccount(PeerId a, PeerId b)
    {
        int slash = a.Value.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && b.Value.Length > slash && b.Value[slash] == '/' && string.CompareOrdinal(a.Value, 0, b.Value, 0, slash) == 0;
    }

    /// <summary>
    /// Binds the peer's key and candidates to its link: keeps a healthy link whose descriptor is the same, and
    /// creates a fresh link object when the current one failed, is stuck or was removed underneath.
    /// </summary>
    private bool Bind(Peer p, LinkDescriptor descriptor, string kind)
    {
        ITincanLink? holder = _tincan.Links.FirstOrDefault(l => l.PeerKey == descriptor.Key && l.Peer != p.Id);
        if (holder is not null)
        {
            Peer? other = _peers.GetValueOrDefault(holder.Peer);
            bool proven = other?.EverConnected ?? holder.Status.State == LinkState.Connected;

            // A holder whose session ended (kept only for the presence grace) yields to a new session of the same
            // account with the same key: the node restarted (a crash, an upgrade) under a new resource. Waiting out
            // the grace left it unreachable for 15 s (the 32-member lab test measured 17 s). Someone with the
            // account's password but not the key only ends a link whose session had ended anyway.
            bool restarted = other is { AwayUntil: not null } && SameAccount(other.Id, p.Id);
            if (!restarted && (proven || (other is not null && _time.GetUtcNow() - other.LinkSince < _settings.ConnectTimeout)))
            {
                // A public key is no secret: whoever sent it first may not hold its private key. The holder keeps it
                // if it proved it in a handshake, or while its own attempt is young; a binding that never proved
                // itself within the connect timeout yields. So an impostor delays the owner once, by that long at
                // most, and a proven owner cannot be displaced at all.
                Refuse(p.Id, kind, $"its key is bound to {holder.Peer.Value}, which {(proven ? "proved it in a handshake" : "is still connecting with it")}");
                return false;
            }

            if (restarted)
            {
                // The old session is over, not just its link: forgetting it also releases its addresses (a mesh
                // refused the new session's claim of the same address while the old one held it) and its routes.
                Forget(other!.Id, "Offline", $"replaced by its restarted session {p.Id.Value}");
            }
            else
            {
                LogKeyRebound(_logger, descriptor.Key.ToString(), holder.Peer.Value, p.Id.Value);
                _tincan.RemoveLink(holder.Peer);
                if (other is not null)
                {
                    _policy.OnLinkReplaced(other.Id, holder);
                    other.Link = null;
                }
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        bool present = p.Link is not null && _tincan.TryGetLink(p.Id, out ITincanLink? current) && ReferenceEquals(current, p.Link);
        if (present && p.Link!.PeerKey == descriptor.Key && StuckReason(p, now) is null)
        {
            if (!SameDescriptor(p.Remote, descriptor))
            {
                // Same key, new candidates (a new TURN allocation, a NAT that moved): Tincan updates a healthy link
                // in place, so its session and traffic carry on.
                ITincanLink old = p.Link;
                if (!TryCreate(p, descriptor, kind))
                {
                    return false;
                }

                if (!ReferenceEquals(old, p.Link))
                {
                    _policy.OnLinkReplaced(p.Id, old);
                    _policy.OnLinkCreated(p.Id, p.Link!);
                    p.LinkSince = now;
                    p.EverConnected = false;
                }

                return true;
            }

            LogKept(_logger, p.Id.Value, p.Link.Status.State.ToString());
            return true;
        }

        if (p.Link is not null)
        {
            // A failed or stuck link keeps its state when created again with the same key: start from a clean one.
            if (present)
            {
                _tincan.RemoveLink(p.Id);
            }

            _policy.OnLinkReplaced(p.Id, p.Link);
        }

        if (!TryCreate(p, descriptor, kind))
        {
            return false;
        }

        _policy.OnLinkCreated(p.Id, p.Link!);
        p.LinkSince = now;
        p.EverConnected = false;
        return true;
    }

    private bool TryCreate(Peer p, LinkDescriptor descriptor, string kind)
    {
        try
        {
            p.Link = _tincan.CreateLink(p.Id, descriptor);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            p.Link = null;
            Refuse(p.Id, kind, e.Message);
            return false;
        }

        p.Remote = descriptor;
        LogLinkCreated(_logger, p.Id.Value, kind);
        return true;
    }

    private static bool SameDescriptor(LinkDescriptor? a, LinkDescriptor b) =>
        a is not null && a.Key == b.Key && a.CheckUsername == b.CheckUsername && a.CheckPassword == b.CheckPassword
        && a.Candidates.AsSpan().SequenceEqual(b.Candidates.AsSpan());

    private async Task OfferAsync(Peer p, CancellationToken ct)
    {
        string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        p.PendingNonce = nonce;
        if (_offered.Add((p.Id, nonce)))
        {
            _offeredOrder.Enqueue((p.Id, nonce));
            if (_offeredOrder.Count > MaxRememberedOffers)
            {
                _offered.Remove(_offeredOrder.Dequeue());
            }
        }

        p.PendingSince = _time.GetUtcNow();
        p.RequestCrossedAt = null;
        if (!await SendAsync(p, LinkNegotiationMessage.OfferKind, nonce, ct))
        {
            p.PendingNonce = null; // nothing in flight: the next attempt (after the backoff or reconnect) offers again
        }
    }

    private async Task<bool> SendAsync(Peer p, string kind, string? nonce, CancellationToken ct)
    {
        try
        {
            LinkDescriptor? descriptor = kind is LinkNegotiationMessage.OfferKind or LinkNegotiationMessage.AnswerKind
                ? await _tincan.GetLocalDescriptorAsync(ct)
                : null;
            LinkNegotiationMessage body = _policy.Describe(p.Id, descriptor) with { Nonce = nonce };
            await _signaling.SendAsync(p.Id, new OverlayMessage(kind, body.ToJson()), ct);
            LogSent(_logger, kind, p.Id.Value);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            // Signaling is down or the peer left; the deadline timer retries after the backoff, a reconnect at once.
            LogSendFailed(_logger, kind, p.Id.Value, e.Message);
            return false;
        }
    }

    private void Refuse(PeerId from, string kind, string reason)
    {
        Refused++;
        if (_refusals.TryTake(from.Value, out long suppressed))
        {
            LogRefused(_logger, kind, from.Value, reason, suppressed);
        }
    }
}
