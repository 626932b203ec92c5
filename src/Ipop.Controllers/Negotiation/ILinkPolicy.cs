namespace Ipop.Controllers;

/// <summary>
/// What makes one controller different from another: which peers may have a link. <see cref="LinkNegotiator"/> does the
/// rest (offers, answers, glare, retries, outages) and asks the policy, on its own loop, whenever it needs a decision.
/// </summary>
/// <remarks>
/// <para>
/// Every member is called on the negotiator's loop, one call at a time and never concurrently with another member of
/// the same policy, so a policy needs no locks for state that only these callbacks touch. State that other threads
/// change (an allow-list edited at run time, say) is best changed through <see cref="LinkNegotiator.Post"/>, followed
/// by <see cref="LinkNegotiator.RecheckTrust"/>. Callbacks must not block; an exception is logged and the event is
/// dropped, the loop carries on.
/// </para>
/// <para>
/// Only <see cref="IsTrusted"/> must be written; the others do nothing by default.
/// </para>
/// </remarks>
public interface ILinkPolicy
{
    /// <summary>
    /// Whether <paramref name="peer"/> may have a link now. Asked when signaling reports the peer (at start, on every
    /// change of presence, relationship or groups, after an outage), when a negotiation message arrives from it, and
    /// for every known peer on <see cref="LinkNegotiator.RecheckTrust"/>. A peer that stops being trusted loses its link
    /// at once (<see cref="OnLinkRemoved"/> follows); offline peers are passed too, so check
    /// <see cref="OverlayPeer.Presence"/> if the policy cares (most do).
    /// </summary>
    /// <param name="peer">The peer as signaling sees it now.</param>
    /// <returns><c>true</c> to keep (or start) a link to it.</returns>
    bool IsTrusted(OverlayPeer peer);

    /// <summary>
    /// Whether this node should start a link to the trusted <paramref name="peer"/> itself (the default: every trusted
    /// peer, a full mesh). A trusted peer that is not wanted gets no offer or request from this node and no retries,
    /// but its offers are still answered, and a link it started stays while it is up; when that link fails or closes
    /// it is removed (<see cref="OnLinkRemoved"/>) and not retried from this side: the peer retries if it still wants
    /// it. Asked for trusted peers only, when signaling reports them (at start, on every change, after an outage) and
    /// on <see cref="LinkNegotiator.RecheckTrust"/>; a structured topology or an on-demand policy answers from its own
    /// state and calls <see cref="LinkNegotiator.RecheckTrust"/> when that state changes.
    /// </summary>
    /// <remarks>
    /// When the answer turns <c>true</c>, a link starts at once (no backoff). When it turns <c>false</c> for a peer that
    /// has a link, this node sends the peer an <c>ipop-link-release</c> message and removes its end; the peer removes
    /// its end too and, if it wants the link itself, starts a new one at once (which this node then answers). So a link
    /// lives while at least one side wants it, and neither side needs to know the other's wish.
    /// </remarks>
    /// <param name="peer">The trusted peer as signaling sees it now.</param>
    /// <returns><c>true</c> to start (and keep retrying) a link to it from this side.</returns>
    bool WantsLink(OverlayPeer peer) => true;

    /// <summary>
    /// The negotiator created a new link object for <paramref name="peer"/> (its first one, or one replacing a failed or
    /// stuck one, which got <see cref="OnLinkRemoved"/> first). The link is usually still connecting: watch
    /// <see cref="ITincan.LinkStatusChanged"/> for it to come up. A place to route addresses to the link.
    /// </summary>
    /// <param name="peer">The peer.</param>
    /// <param name="link">The new link.</param>
    void OnLinkCreated(PeerId peer, ITincanLink link)
    {
    }

    /// <summary>
    /// The negotiator removed <paramref name="link"/>: the peer is no longer trusted, the link is being replaced by a
    /// fresh one, neither side wants it any more (<see cref="WantsLink"/>), or the negotiator is stopping. Called once for each link passed to <see cref="OnLinkCreated"/>
    /// (except links removed by someone else, which the negotiator only notices when it creates the next one). A place
    /// to drop routes that point at the link.
    /// </summary>
    /// <param name="peer">The peer.</param>
    /// <param name="link">The link, already removed from Tincan.</param>
    void OnLinkRemoved(PeerId peer, ITincanLink link)
    {
    }

    /// <summary>
    /// A signaling message whose kind is not one of the negotiator's (theirs start with <c>ipop-</c>) arrived: a
    /// controller's own protocol beside link negotiation (a status, a route announcement). Called whether or not the
    /// sender is trusted, since such a message may be what makes it trusted; the default ignores it.
    /// </summary>
    /// <param name="from">The sender as signaling sees it, or <c>null</c> if signaling does not list it.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancelled when the negotiator stops.</param>
    /// <returns>A task that completes when the message is handled (the loop waits for it).</returns>
    Task OnMessageAsync(OverlayPeer? from, OverlayMessage message, CancellationToken cancellationToken) => Task.CompletedTask;
}
