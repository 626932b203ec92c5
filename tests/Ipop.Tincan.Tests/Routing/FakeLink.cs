namespace Ipop.Tincan.Tests.Routing;

/// <summary>A link stand-in for routing tests: only identity and state matter to a router.</summary>
internal sealed class FakeLink(string peer, LinkState state = LinkState.Connected) : ITincanLink
{
    public PeerId Peer { get; } = new(peer);

    public NodePublicKey PeerKey => default;

    public LinkStatus Status { get; set; } = new(state, state == LinkState.Connected ? LinkPath.DirectHost : LinkPath.None, LinkFailureReason.None);

    public LinkStats GetStats() => new();

    public bool TrySend(ReadOnlySpan<byte> packet) => true;

    public bool TrySendControl(ReadOnlySpan<byte> message) => true;

    public override string ToString() => Peer.Value;
}
