namespace Ipop.Controllers.Negotiation;

/// <summary>What distinguishes one controller from another: whom to trust and what addresses mean.</summary>
internal interface ILinkPolicy
{
    /// <summary>Whether this peer may have a link now (online group member, mutual friend, ...).</summary>
    bool IsTrusted(OverlayPeer peer);

    /// <summary>The negotiation body to send to <paramref name="peer"/> (the negotiator fills in the descriptor and nonce).</summary>
    LinkNegotiationMessage Describe(PeerId peer, LinkDescriptor? descriptor);

    /// <summary>The peer told us its addresses (in an offer, answer or address update).</summary>
    Task OnClaimsAsync(PeerId peer, LinkNegotiationMessage message, ITincanLink? link, CancellationToken cancellationToken);

    /// <summary>A link object of a peer that is still wanted was removed to be created afresh: forget what pointed to it.</summary>
    void OnLinkReplaced(PeerId peer, ITincanLink old);

    /// <summary>The peer is no longer trusted or went offline: its link is already removed.</summary>
    void OnForgotten(PeerId peer, ITincanLink? link);

    /// <summary>Once a second, on the controller loop.</summary>
    void OnTick();
}
