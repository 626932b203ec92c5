using System.Diagnostics;

namespace Ipop.Xmpp;

/// <summary>
/// Messages that overtake their sender's presence. A peer whose session just came back sends at once (a link
/// request after a move), and the server delivers that direct message before the room's broadcast of the peer's new
/// presence: dropping it cost the lab 10 s (the offer's answer timeout) after two members renumbered at once. So a
/// message from a peer we knew (a full JID in the peer table, now offline) is held for a moment and delivered when
/// its presence makes it an online friend or member again; anything else is dropped as before. The hold is bounded
/// (<see cref="MaxHeldMessages"/>, <see cref="EarlyMessageHold"/>) and strangers never get one: only a JID that was
/// once an online friend or member is in the table.
/// </summary>
public sealed partial class XmppSignaling
{
    private const int MaxHeldMessages = 32;
    private static readonly TimeSpan EarlyMessageHold = TimeSpan.FromSeconds(3);

    // Under _gate, oldest first.
    private readonly List<HeldMessage> _heldMessages = [];

    // Under _gate: holds the message if its sender is a peer we knew; false to drop it.
    private bool TryHoldLocked(string full, string kind, string body)
    {
        if (!_peers.ContainsKey(full))
        {
            return false;
        }

        if (_heldMessages.Count == MaxHeldMessages)
        {
            Drop("its presence did not come while " + MaxHeldMessages + " messages waited for theirs", _heldMessages[0].From);
            _heldMessages.RemoveAt(0);
        }

        _heldMessages.Add(new HeldMessage(full, kind, body, _time.GetTimestamp()));
        return true;
    }

    // Under _gate, after RecomputeLocked posted the peer's change: its held messages follow, in order.
    private void ReleaseHeldLocked(OverlayPeer peer, string full)
    {
        if (_heldMessages.Count == 0)
        {
            return;
        }

        ExpireHeldLocked();
        for (int i = 0; i < _heldMessages.Count;)
        {
            HeldMessage held = _heldMessages[i];
            if (!string.Equals(held.From, full, StringComparison.Ordinal))
            {
                i++;
                continue;
            }

            _heldMessages.RemoveAt(i);
            var args = new OverlayMessageEventArgs(peer.Id, new OverlayMessage(held.Kind, held.Body));
            _events.Post(() => MessageReceived?.Invoke(this, args));
        }
    }

    // Under _gate, at every message and release: a hold that is over ends in a drop, counted and logged.
    private void ExpireHeldLocked()
    {
        if (_heldMessages.Count == 0)
        {
            return;
        }

        long now = _time.GetTimestamp();
        while (_heldMessages.Count > 0 && _time.GetElapsedTime(_heldMessages[0].At, now) >= EarlyMessageHold)
        {
            Drop("it came from a peer that is offline, and its presence did not follow within " + EarlyMessageHold.TotalSeconds + " s", _heldMessages[0].From);
            _heldMessages.RemoveAt(0);
        }
    }

    [DebuggerDisplay("{Kind} from {From}")]
    private sealed record HeldMessage(string From, string Kind, string Body, long At);
}
