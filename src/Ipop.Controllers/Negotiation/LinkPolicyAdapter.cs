namespace Ipop.Controllers.Negotiation;

/// <summary>
/// A public <see cref="ILinkPolicy"/> in the shape the negotiator uses internally: it claims no addresses, and
/// every link the negotiator creates or removes is reported to it.
/// </summary>
internal sealed class LinkPolicyAdapter(ILinkPolicy policy) : INegotiationPolicy
{
    public bool IsTrusted(OverlayPeer peer) => policy.IsTrusted(peer);

    public bool WantsLink(OverlayPeer peer) => policy.WantsLink(peer);

    public LinkNegotiationMessage Describe(PeerId peer, LinkDescriptor? descriptor) => new(descriptor, [], null);

    public Task OnClaimsAsync(PeerId peer, LinkNegotiationMessage message, ITincanLink? link, CancellationToken cancellationToken) => Task.CompletedTask;

    public void OnLinkCreated(PeerId peer, ITincanLink link) => policy.OnLinkCreated(peer, link);

    public void OnLinkReplaced(PeerId peer, ITincanLink old) => policy.OnLinkRemoved(peer, old);

    public void OnForgotten(PeerId peer, ITincanLink? link)
    {
        if (link is not null)
        {
            policy.OnLinkRemoved(peer, link);
        }
    }

    public void OnStopped(PeerId peer, ITincanLink link) => policy.OnLinkRemoved(peer, link);

    public async Task<bool> OnOtherMessageAsync(OverlayPeer? from, OverlayMessage message, CancellationToken cancellationToken)
    {
        await policy.OnMessageAsync(from, message, cancellationToken);
        return true;
    }

    public TimeSpan? OnTick() => null; // a public policy has no housekeeping of the negotiator's to do
}
