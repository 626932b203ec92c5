using System.Xml.Linq;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp;

/// <summary>
/// Outages: what we knew about peers when the session was lost is held, not thrown away, and the next
/// session confirms or ends it. Every peer keeps its last known state while we are disconnected; after
/// a reconnect, a presence from a peer (available or unavailable) is handled as usual, and peers we
/// have not heard from within <see cref="XmppSignalingOptions.PresenceSettleTime"/> are reported
/// offline then.
/// </summary>
/// <remarks>
/// Rooms get the same settle time as roster contacts, counted from our rejoin, although a rejoin yields a
/// complete occupant list before our own presence (XEP-0045 §7.2.3): after a server restart the room is
/// empty until each member's node has reconnected too, and those reconnect up to a backoff step later than
/// we do, so an occupant missing from the list at our rejoin may simply not be back yet.
/// </remarks>
public sealed partial class XmppSignaling
{
    // Roster sessions (full JIDs) that were online when a session was lost and have not been heard from since.
    private readonly HashSet<string> _rosterUnconfirmed = new(StringComparer.Ordinal);

    // Room JID -> nickname -> real full JID: occupants when a session was lost, not seen in the room since.
    private readonly Dictionary<string, Dictionary<string, string>> _occupantsUnconfirmed = new(StringComparer.Ordinal);

    /// <summary>Under <c>_gate</c>, when a session ends: everything believed online becomes unconfirmed (kept as is, so nothing changes for users).</summary>
    private void HoldPresenceLocked()
    {
        _rosterUnconfirmed.UnionWith(_rosterOnline);
        foreach (MucRoom room in _rooms.Values)
        {
            if (room.Occupants.Count == 0)
            {
                continue;
            }

            if (!_occupantsUnconfirmed.TryGetValue(room.Jid, out Dictionary<string, string>? held))
            {
                held = new Dictionary<string, string>(StringComparer.Ordinal);
                _occupantsUnconfirmed[room.Jid] = held;
            }

            foreach ((string nick, MucOccupant occupant) in room.Occupants)
            {
                held[nick] = occupant.RealJid;
            }
        }
    }

    /// <summary>
    /// Under <c>_gate</c>, for every inbound stanza before it is dispatched: a presence from a held peer
    /// confirms it, whatever it says; dispatch then applies it (an unavailable one, or one without the
    /// Ipop marker, takes the peer offline as a positive signal).
    /// </summary>
    private void NotePresenceLocked(XElement stanza)
    {
        if ((_rosterUnconfirmed.Count == 0 && _occupantsUnconfirmed.Count == 0) || stanza.Name.LocalName != "presence")
        {
            return;
        }

        if (!Jid.TryParse(StanzaReader.Attr(stanza, "from"), out Jid from) || StanzaReader.Type(stanza, "available") is not ("available" or "unavailable"))
        {
            return;
        }

        _rosterUnconfirmed.Remove(from.Full);
        if (from.Resource is not null && _occupantsUnconfirmed.TryGetValue(from.Bare, out Dictionary<string, string>? held))
        {
            held.Remove(from.Resource);
        }
    }

    /// <summary>
    /// Waits <see cref="XmppSignalingOptions.PresenceSettleTime"/> after a session came up (roster fetched,
    /// initial presence sent), then reports offline the roster contacts still unconfirmed. A session lost before
    /// that keeps holding them for the next one. Rooms are settled from our own rejoin (<see cref="SettleRoomAsync"/>).
    /// </summary>
    private async Task SettleAsync(XmppConnection connection, Task<string> loop, long connectedAt)
    {
        lock (_gate)
        {
            if (_rosterUnconfirmed.Count == 0)
            {
                return;
            }
        }

        try
        {
            await Task.WhenAny(loop, Task.Delay(Remaining(connectedAt), _time, _lifetime.Token));
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        int ended = 0;
        lock (_gate)
        {
            if (loop.IsCompleted || _lifetime.IsCancellationRequested || !_connected || !ReferenceEquals(_connection, connection))
            {
                return;
            }

            foreach (string full in _rosterUnconfirmed)
            {
                if (_rosterOnline.Remove(full))
                {
                    RecomputeLocked(full);
                    ended++;
                }
            }

            _rosterUnconfirmed.Clear();
        }

        LogSettled(_logger, ended, _options.PresenceSettleTime.TotalSeconds);
    }

    // What is left of the settle time that began at the timestamp `since`.
    private TimeSpan Remaining(long since)
    {
        TimeSpan left = _options.PresenceSettleTime - _time.GetElapsedTime(since);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// A room that refused our rejoin (not a member any more, banned, room gone) is a positive signal that we are
    /// out of that group, so its held occupants end now; a join that got no answer says nothing and keeps them.
    /// </summary>
    private void OnRoomJoinRefused(MucRoom room, MucJoinResult result)
    {
        if (result.Condition is not ("registration-required" or "forbidden" or "item-not-found"))
        {
            return;
        }

        lock (_gate)
        {
            if (!room.Joined)
            {
                EndUnconfirmedOccupantsLocked(room);
            }
        }
    }

    /// <summary>
    /// A room rejoined after an outage whose held occupants the session's settle could not judge (we were not back
    /// in the room yet): they get the same settle time from our join, since they reconnect on their own schedule.
    /// </summary>
    private async Task SettleRoomAsync(XmppConnection connection, Task loop, MucRoom room, long joinedAt)
    {
        lock (_gate)
        {
            if (!_occupantsUnconfirmed.ContainsKey(room.Jid))
            {
                return;
            }
        }

        try
        {
            await Task.WhenAny(loop, Task.Delay(Remaining(joinedAt), _time, _lifetime.Token));
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        int ended;
        lock (_gate)
        {
            if (loop.IsCompleted || _lifetime.IsCancellationRequested || !room.Joined || !ReferenceEquals(room.JoinedOn, connection))
            {
                return;
            }

            ended = EndUnconfirmedOccupantsLocked(room);
        }

        LogSettled(_logger, ended, _options.PresenceSettleTime.TotalSeconds);
    }

    /// <summary>Under <c>_gate</c>: the room's held occupants that were not heard from again leave it now.</summary>
    private int EndUnconfirmedOccupantsLocked(MucRoom room)
    {
        if (!_occupantsUnconfirmed.Remove(room.Jid, out Dictionary<string, string>? held))
        {
            return 0;
        }

        int ended = 0;
        foreach ((string nick, string full) in held)
        {
            if (room.Occupants.TryGetValue(nick, out MucOccupant current) && current.RealJid == full)
            {
                room.Occupants.Remove(nick);
                RecomputeLocked(full);
                ended++;
            }
        }

        return ended;
    }
}
