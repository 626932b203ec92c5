using Ipop;
using Ipop.Controllers;

/// <summary>
/// The whole decision of this controller: link to online peers whose user is on the list. The negotiator calls it on
/// its own loop, one call at a time, so the set needs no lock as long as it is changed through the loop too
/// (<see cref="AllowListController.Disallow"/>).
/// </summary>
public sealed class AllowListPolicy(IEnumerable<string> users) : ILinkPolicy
{
    private readonly HashSet<string> _users = new(users, StringComparer.OrdinalIgnoreCase);

    public bool IsTrusted(OverlayPeer peer) => peer.Presence == PeerPresence.Online && _users.Contains(peer.User);

    public void Remove(string user) => _users.Remove(user);
}
