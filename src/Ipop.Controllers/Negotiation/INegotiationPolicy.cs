namespace Ipop.Controllers.Negotiation;

/// <summary>
/// What the built-in controllers tell <see cref="LinkNegotiator"/> beyond the public <see cref="ILinkPolicy"/>: the
/// addresses they claim in each message, and what to forget when links go. A public policy is adapted to it by
/// <see cref="LinkPolicyAdapter"/>.
/// </summary>
internal interface INegotiationPolicy
{
    /// <summary>Whether this peer may have a link now (online group member, mutual friend, ...).</summary>
    bool IsTrusted(OverlayPeer peer);

    /// <summary>Whether this node starts (and retries) a link to the trusted <paramref name="peer"/> (see <see cref="ILinkPolicy.WantsLink"/>).</summary>
    bool WantsLink(OverlayPeer peer) => true;

    /// <summary>The negotiation body to send to <paramref name="peer"/> (the negotiator fills in the descriptor and nonce).</summary>
    LinkNegotiationMessage Describe(PeerId peer, LinkDescriptor? descriptor);

    /// <summary>The peer told us its addresses (in an offer, answer or address update).</summary>
    Task OnClaimsAsync(PeerId peer, LinkNegotiationMessage message, ITincanLink? link, CancellationToken cancellationToken);

    /// <summary>A new link object was created for <paramref name="peer"/> (its first, or one replacing an older one).</summary>
    void OnLinkCreated(PeerId peer, ITincanLink link)
    {
    }

    /// <summary>
    /// A link object of a peer that is still trusted was removed (to be created afresh, or released because one side
    /// stopped wanting it, or ended while this side does not want it): forget what pointed to it. The peer's claims stay.
    /// </summary>
    void OnLinkReplaced(PeerId peer, ITincanLink old);

    /// <summary>
    /// The peer's signaling session ended but its Connected link is kept for the presence grace
    /// (<paramref name="away"/> true), or it came back, or the grace ended with it still trusted (false). A peer
    /// forgotten while away gets <see cref="OnForgotten"/> instead of a call with false.
    /// </summary>
    void OnPeerAway(PeerId peer, bool away)
    {
    }

    /// <summary>The peer is no longer trusted or went offline: its link is already removed.</summary>
    void OnForgotten(PeerId peer, ITincanLink? link);

    /// <summary>The negotiator is stopping and has removed <paramref name="link"/>.</summary>
    void OnStopped(PeerId peer, ITincanLink link)
    {
    }

    /// <summary>
    /// A message whose kind is not one of the negotiator's arrived: <c>true</c> if the policy took it (then it is not
    /// refused as an unknown kind).
    /// </summary>
    Task<bool> OnOtherMessageAsync(OverlayPeer? from, OverlayMessage message, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>
    /// Housekeeping on the controller loop (purging a learning switch, say): called once soon after the start, then
    /// when the time it returns has passed. The negotiator has no periodic tick (issue 14: an idle node must not wake
    /// up), so a policy with nothing that can expire returns <c>null</c> and is not called again.
    /// </summary>
    /// <returns>How long until the policy needs the next call, or <c>null</c> for never.</returns>
    TimeSpan? OnTick();
}
