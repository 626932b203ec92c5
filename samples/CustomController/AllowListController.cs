using Ipop;

/// <summary>
/// A complete Ipop controller in a few dozen lines: link to every online contact whose user is in a list.
/// Each side sends its link descriptor to allowed peers over signaling and links when the other's arrives;
/// a peer that goes offline or leaves the list loses its link (and its key is revoked).
/// </summary>
public sealed class AllowListController(IOverlaySignaling signaling, ITincan tincan, IReadOnlySet<string> allowedUsers) : IController
{
    private const string DescriptorKind = "custom-descriptor";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        signaling.PeerChanged += (_, e) => _ = OnPeerAsync(e.Current, cancellationToken);
        signaling.MessageReceived += (_, e) =>
        {
            OverlayPeer? peer = signaling.Peers.FirstOrDefault(p => p.Id == e.From);
            if (e.Message.Kind == DescriptorKind && peer is not null && allowedUsers.Contains(peer.User))
            {
                tincan.CreateLink(e.From, LinkDescriptor.Parse(e.Message.Body));
            }
        };

        await tincan.StartAsync(cancellationToken);
        await signaling.ConnectAsync(cancellationToken);
        foreach (OverlayPeer peer in signaling.Peers)
        {
            await OnPeerAsync(peer, cancellationToken);
        }

        await Task.Delay(Timeout.Infinite, cancellationToken);
    }

    private async Task OnPeerAsync(OverlayPeer peer, CancellationToken cancellationToken)
    {
        if (peer.Presence == PeerPresence.Online && allowedUsers.Contains(peer.User))
        {
            LinkDescriptor mine = await tincan.GetLocalDescriptorAsync(cancellationToken);
            await signaling.SendAsync(peer.Id, new OverlayMessage(DescriptorKind, mine.ToJson()), cancellationToken);
        }
        else
        {
            tincan.RemoveLink(peer.Id);
        }
    }
}
