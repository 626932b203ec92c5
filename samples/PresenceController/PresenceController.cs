using Ipop;
using Ipop.Controllers;
using Microsoft.Extensions.Logging;

/// <summary>
/// Links friends only while both are "available": each node tells its online friends its status in a message of its
/// own kind, and a status other than available (say "away") removes the links at once, on both sides. Ipop's
/// signaling reports only online or offline, so the status travels as this controller's own protocol, through the
/// negotiator's loop (<see cref="ILinkPolicy.OnMessageAsync"/>); the negotiator does the rest.
/// </summary>
public sealed class PresenceController : IController, ILinkPolicy
{
    public const string StatusKind = "presence-status";
    public const string Available = "available";
    private readonly LinkNegotiator _negotiator;
    private readonly Dictionary<PeerId, string> _statusOf = [];   // what each friend told us
    private readonly Dictionary<PeerId, string> _told = [];       // what we told each online friend
    private string _status = Available;

    public PresenceController(IOverlaySignaling signaling, ITincan tincan, ILogger? logger = null)
    {
        Signaling = signaling;
        _negotiator = new LinkNegotiator(signaling, tincan, this, logger: logger);
    }

    public IOverlaySignaling Signaling { get; }

    public Task Ready => _negotiator.Ready;

    public Task RunAsync(CancellationToken cancellationToken) => _negotiator.RunAsync(cancellationToken);

    public Task WhenIdleAsync() => _negotiator.WhenIdleAsync();

    /// <summary>Sets this node's status (from any thread): friends hear of it, and links follow.</summary>
    public void SetStatus(string status) => _negotiator.Post(async ct =>
    {
        _status = status;
        foreach (OverlayPeer friend in Signaling.Peers.Where(IsOnlineFriend))
        {
            await TellAsync(friend.Id, ct);
        }

        _negotiator.RecheckTrust();
    });

    public bool IsTrusted(OverlayPeer peer)
    {
        if (!IsOnlineFriend(peer))
        {
            _told.Remove(peer.Id);   // when it is back, it hears our status again
            _statusOf.Remove(peer.Id);
            return false;
        }

        if (_told.GetValueOrDefault(peer.Id) != _status)
        {
            _negotiator.Post(ct => TellAsync(peer.Id, ct));   // a friend that just came online learns our status
        }

        return _status == Available && _statusOf.GetValueOrDefault(peer.Id) == Available;
    }

    public Task OnMessageAsync(OverlayPeer? from, OverlayMessage message, CancellationToken cancellationToken)
    {
        if (message.Kind == StatusKind && from is not null && IsOnlineFriend(from))
        {
            _statusOf[from.Id] = message.Body;
            _negotiator.RecheckTrust();
        }

        return Task.CompletedTask;
    }

    private static bool IsOnlineFriend(OverlayPeer peer) => peer.Presence == PeerPresence.Online && peer.Relationship.HasFlag(PeerRelationship.Friend);

    private async Task TellAsync(PeerId peer, CancellationToken ct)
    {
        try
        {
            await Signaling.SendAsync(peer, new OverlayMessage(StatusKind, _status), ct);
            _told[peer] = _status;
        }
        catch (InvalidOperationException)
        {
            // Signaling is down: the reconnect re-checks every peer, and IsTrusted tells it again.
        }
    }
}
