using System.Collections.Immutable;
using System.Xml.Linq;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Roster;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp;

/// <summary>Inbound stanzas: IQ replies and pushes, presence (contacts, subscriptions, rooms), messages.</summary>
public sealed partial class XmppSignaling
{
    // XEP-0045 §15.6: banned, kicked, affiliation changed (membership revoked), removed as the room became members-only,
    // the service shut down. (333, removed for a technical problem, is a session ending like any reset.)
    private static readonly HashSet<string> RemovalCodes = new(["301", "307", "321", "322", "332"], StringComparer.Ordinal);

    private async Task DispatchAsync(XmppConnection connection, XElement stanza)
    {
        List<XElement> replies = [];
        try
        {
            switch (stanza.Name.LocalName)
            {
                case "iq":
                    HandleIq(stanza, replies);
                    break;
                case "presence":
                    HandlePresence(stanza, replies);
                    break;
                case "message":
                    HandleMessage(stanza);
                    break;
                default:
                    break; // Nonzas we do not use (e.g. stream management) are ignored.
            }
        }
#pragma warning disable CA1031 // One bad stanza is dropped and logged; the session goes on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _droppedMessages);
            LogStanzaDropped(_logger, stanza.Name.LocalName, ex.Message);
        }

        foreach (XElement reply in replies)
        {
            await connection.SendAsync(reply, CancellationToken.None);
        }
    }

    private void HandleIq(XElement iq, List<XElement> replies)
    {
        string type = StanzaReader.Type(iq, string.Empty);
        string? id = StanzaReader.Attr(iq, "id");
        string? from = StanzaReader.Attr(iq, "from");
        if (id is null)
        {
            return;
        }

        if (type is "result" or "error")
        {
            if (_pendingIq.TryGetValue(id, out PendingIq? pending) && ReplyComesFromExpected(from, pending.ExpectedFrom))
            {
                pending.Completion.TrySetResult(iq);
            }

            return;
        }

        if (type is not ("get" or "set"))
        {
            return;
        }

        XElement? payload = iq.Elements().FirstOrDefault();
        if (type == "set" && payload?.Name == XName.Get("query", XmppNamespaces.Roster))
        {
            // RFC 6121 §2.1.6: a push is only valid from our own account (no 'from', or our bare JID).
            if (from is not null && !(Jid.TryParse(from, out Jid f) && f.Bare == _account.Bare))
            {
                LogSpoofedPush(_logger, from);
                replies.Add(StanzaBuilder.IqError(id, from, "cancel", "service-unavailable"));
                return;
            }

            ApplyRoster(RosterItem.ParseQuery(payload), replace: false);
            replies.Add(StanzaBuilder.IqResult(id, from));
            return;
        }

        if (type == "get" && payload?.Name == XName.Get("ping", XmppNamespaces.Ping))
        {
            replies.Add(StanzaBuilder.IqResult(id, from));
            return;
        }

        // RFC 6120 §8.4: an IQ we do not understand gets service-unavailable.
        replies.Add(StanzaBuilder.IqError(id, from, "cancel", "service-unavailable"));
    }

    private bool ReplyComesFromExpected(string? from, string? expected)
    {
        if (from is null)
        {
            return expected is null || (Jid.TryParse(expected, out Jid e) && (e.Bare == _account.Bare || e.Full == _account.Domain));
        }

        if (!Jid.TryParse(from, out Jid actual))
        {
            return false;
        }

        if (expected is null)
        {
            return actual.Full == _account.Domain || actual.Bare == _account.Bare;
        }

        return Jid.TryParse(expected, out Jid want) && want.Full == actual.Full;
    }

    private void ApplyRoster(List<RosterItem> items, bool replace)
    {
        lock (_gate)
        {
            var touched = new HashSet<string>(StringComparer.Ordinal);
            if (replace)
            {
                touched.UnionWith(_roster.Keys);
                _roster.Clear();
            }

            foreach (RosterItem item in items)
            {
                touched.Add(item.Jid);
                if (item.Subscription == "remove")
                {
                    _roster.Remove(item.Jid);
                }
                else
                {
                    _roster[item.Jid] = item;
                }
            }

            foreach (string full in _peers.Keys.Concat(_rosterOnline).Distinct(StringComparer.Ordinal).ToArray())
            {
                if (touched.Contains(Jid.Parse(full).Bare))
                {
                    RecomputeLocked(full);
                }
            }
        }
    }

    private void HandlePresence(XElement presence, List<XElement> replies)
    {
        if (!Jid.TryParse(StanzaReader.Attr(presence, "from"), out Jid from))
        {
            return;
        }

        string type = StanzaReader.Type(presence, "available");
        lock (_gate)
        {
            if (_rooms.TryGetValue(from.Bare, out MucRoom? room) || _managedRooms.TryGetValue(from.Bare, out room))
            {
                HandleRoomPresenceLocked(room, from, type, presence);
                return;
            }

            switch (type)
            {
                case "subscribe":
                    HandleSubscribeLocked(from.Bare, replies);
                    return;
                case "available" or "unavailable":
                    break;
                default:
                    return; // subscribed/unsubscribe(d): the roster push that follows carries the state (RFC 6121 §3.1.5, §3.2).
            }

            if (from.IsBare || from.Full == LocalId.Value)
            {
                return;
            }

            bool online = type == "available" && StanzaReader.HasMarker(presence);
            bool announced = online && NoteAnnouncementLocked(from.Full, presence);
            bool changed = online ? _rosterOnline.Add(from.Full) : _rosterOnline.Remove(from.Full);
            if (changed || announced)
            {
                // A resource's unavailable presence ends its session; an unfriending arrives as a roster push instead.
                RecomputeLocked(from.Full, sessionEnded: changed && !online);
            }
        }
    }

    private void HandleSubscribeLocked(string user, List<XElement> replies)
    {
        if (user == _account.Bare || !user.Contains('@', StringComparison.Ordinal))
        {
            return;
        }

        _roster.TryGetValue(user, out RosterItem? item);
        bool listed = _options.FriendRequestPolicy == FriendRequestPolicy.AcceptListed
            && _options.AcceptedFriends.Any(f => Jid.TryParse(f, out Jid j) && j.Bare == user);

        // A request from someone we asked ourselves (or already approved) completes a friendship we want.
        if ((item?.WeAsked ?? false) || item?.Subscription is "from" or "both" || listed)
        {
            replies.Add(StanzaBuilder.Subscription(user, "subscribed"));
            if (!(item?.WeAsked ?? false))
            {
                replies.Add(StanzaBuilder.Subscription(user, "subscribe"));
            }

            return;
        }

        if (_options.FriendRequestPolicy == FriendRequestPolicy.Ask)
        {
            if (_pendingRequests.Add(user))
            {
                _events.Post(() => FriendRequestReceived?.Invoke(this, new FriendRequestEventArgs(user)));
            }

            return;
        }

        LogFriendRequestRefused(_logger, user);
        replies.Add(StanzaBuilder.Subscription(user, "unsubscribed"));
    }

    private void HandleRoomPresenceLocked(MucRoom room, Jid from, string type, XElement presence)
    {
        XElement? x = presence.Element(XName.Get("x", XmppNamespaces.MucUser));
        HashSet<string> codes = x?.Elements(XName.Get("status", XmppNamespaces.MucUser)).Select(s => (string?)s.Attribute("code") ?? string.Empty).ToHashSet(StringComparer.Ordinal) ?? [];
        XElement? item = x?.Element(XName.Get("item", XmppNamespaces.MucUser));

        // XEP-0045 §7.2.3/§9: every occupant presence carries the user's affiliation, and the room sends a new one
        // whenever it changes, so membership is re-checked on each presence.
        GroupAffiliation affiliation = MucAffiliations.Parse((string?)item?.Attribute("affiliation"));
        string nick = from.Resource ?? string.Empty;

        // A plain leave (the occupant's session ended, its affiliation still a member's) may be a connection reset by a
        // moving network, back in moments; a kick, ban, revocation or the room's end is a removal (XEP-0045 §15.6), and
        // so is anything we cannot read (no item): links to a removed member must end at once.
        bool sessionEnded = type == "unavailable" && MucAffiliations.IsMember(affiliation)
            && !codes.Overlaps(RemovalCodes) && x?.Element(XName.Get("destroy", XmppNamespaces.MucUser)) is null;

        // Role none means the occupant is not (or no longer) in the room (§5.1): ejabberd announces a revoked
        // membership with such a presence before the 321 removal, and it must neither count as being in the room
        // nor answer a join that follows.
        if (type == "available" && (string?)item?.Attribute("role") == "none")
        {
            type = "unavailable";
        }

        if (type == "error")
        {
            room.Join?.TrySetResult(MucJoinResult.Refused(StanzaReader.ErrorConditionName(presence), StanzaReader.ErrorCondition(presence)));
            return;
        }

        if (from.IsBare)
        {
            return; // The room's own presence (ejabberd announces its entity caps so), not an occupant.
        }

        if (codes.Contains("110") || nick == room.Nickname)
        {
            HandleOwnRoomPresenceLocked(room, type, codes, x, affiliation);
            return;
        }

        string? realText = (string?)item?.Attribute("jid");
        MucOccupant? previous = room.Occupants.TryGetValue(nick, out MucOccupant known) ? known : null;
        if (type == "unavailable" || !StanzaReader.HasMarker(presence) || !Jid.TryParse(realText, out Jid real) || real.IsBare)
        {
            if (type == "available" && realText is null && !room.WarnedAnonymous)
            {
                room.WarnedAnonymous = true;
                LogAnonymousRoom(_logger, room.Jid);
            }

            if (previous is { } gone)
            {
                room.Occupants.Remove(nick);
                RecomputeLocked(gone.RealJid, sessionEnded);
            }

            return;
        }

        room.Occupants[nick] = new MucOccupant(real.Full, affiliation);
        NoteAnnouncementLocked(real.Full, presence); // Members are rarely friends: the room is where they announce.
        if (previous is { } before && before.RealJid != real.Full)
        {
            RecomputeLocked(before.RealJid);
        }

        // An Ipop node in the room whose user is not on the member list (an open room, or a server that lets it in):
        // say once per change that we refuse it, since it will try to link.
        if (!MucAffiliations.IsMember(affiliation) && previous?.Affiliation != affiliation && _rooms.ContainsKey(room.Jid))
        {
            LogNotAGroupMember(_logger, nick, real.Full, room.Jid, affiliation);
        }

        RecomputeLocked(real.Full);
    }

    private void HandleOwnRoomPresenceLocked(MucRoom room, string type, HashSet<string> codes, XElement? x, GroupAffiliation affiliation)
    {
        if (type == "unavailable")
        {
            // Kicked, banned, membership revoked, or the room went away (XEP-0045 §9.1, §9.4, §10.9): everyone there is gone for us.
            bool wasJoined = room.Joined;
            room.Joined = false;
            string[] gone = [.. room.Occupants.Values.Select(o => o.RealJid)];
            room.Occupants.Clear();
            foreach (string full in gone)
            {
                RecomputeLocked(full);
            }

            string reason = RemovalReason(codes, x);
            if (wasJoined && _rooms.ContainsKey(room.Jid))
            {
                LogRemovedFromRoom(_logger, room.Jid, reason);
            }

            room.Left?.TrySetResult(reason);
            return;
        }

        bool wasIn = room.Joined;
        GroupAffiliation before = room.Affiliation;
        room.Joined = true;
        room.Affiliation = affiliation;
        if (codes.Contains("100") is false && !room.WarnedAnonymous && x?.Element(XName.Get("item", XmppNamespaces.MucUser))?.Attribute("jid") is null)
        {
            room.WarnedAnonymous = true;
            LogAnonymousRoom(_logger, room.Jid);
        }

        if (wasIn && before != affiliation)
        {
            LogOwnAffiliation(_logger, room.Jid, before, affiliation);
        }

        room.Join?.TrySetResult(MucJoinResult.In(codes.Contains("201"), affiliation));
    }

    /// <summary>Why a room removed us, from the status codes of XEP-0045 §15.6.</summary>
    private static string RemovalReason(HashSet<string> codes, XElement? x)
    {
        if (x?.Element(XName.Get("destroy", XmppNamespaces.MucUser)) is not null)
        {
            return "the room was destroyed";
        }

        if (codes.Contains("301"))
        {
            return "banned (301)";
        }

        if (codes.Contains("321"))
        {
            return "our membership was revoked (321)";
        }

        if (codes.Contains("322"))
        {
            return "the room became members-only and we are not on its member list (322)";
        }

        if (codes.Contains("307"))
        {
            return "kicked (307)";
        }

        return codes.Contains("332") ? "the MUC service shut down (332)" : "left the room";
    }

    private void HandleMessage(XElement message)
    {
        XElement? payload = message.Element(XName.Get("ipop", XmppNamespaces.Ipop));
        if (payload is null || StanzaReader.Type(message, "normal") is "error" or "groupchat")
        {
            return;
        }

        string? fromText = StanzaReader.Attr(message, "from");
        string? kind = (string?)payload.Attribute("kind");
        string body = payload.Value;
        if (!Jid.TryParse(fromText, out Jid from) || from.IsBare)
        {
            Drop("sender is not a full JID", fromText);
            return;
        }

        if (!IsValidKind(kind) || body.Length > OverlayMessage.MaxBodyLength)
        {
            Drop("invalid kind or body over " + OverlayMessage.MaxBodyLength + " characters", from.Full);
            return;
        }

        lock (_gate)
        {
            ExpireHeldLocked();
            if (!_peers.TryGetValue(from.Full, out OverlayPeer? peer) || peer.Presence != PeerPresence.Online || peer.Relationship == PeerRelationship.None)
            {
                if (!TryHoldLocked(from.Full, kind!, body))
                {
                    Drop("sender is neither an online friend nor a group member", from.Full);
                }

                return;
            }

            var args = new OverlayMessageEventArgs(peer.Id, new OverlayMessage(kind!, body));
            _events.Post(() => MessageReceived?.Invoke(this, args));
        }
    }

    private void Drop(string reason, string? from)
    {
        long count = Interlocked.Increment(ref _droppedMessages);

        // Information, so an operator sees strangers knocking (offers from accounts that are neither friends nor
        // members); rate-limited, since anyone on the server can send them: the first few, then every 100th.
        if (count <= 10 || count % 100 == 0)
        {
            LogMessageDropped(_logger, from ?? "(none)", reason, count);
        }
    }

    /// <summary>Derives a peer's state from roster presence and room membership (occupant with member affiliation or higher) and raises <see cref="PeerChanged"/> on a difference.</summary>
    /// <param name="full">The peer's full JID.</param>
    /// <param name="sessionEnded">The change is the end of the peer's session alone (see <see cref="OverlayPeerEventArgs.SessionEnded"/>).</param>
    private void RecomputeLocked(string full, bool sessionEnded = false)
    {
        Jid jid = Jid.Parse(full);
        ImmutableArray<string> groups = [.. _rooms.Values.Where(r => r.HasMember(full)).Select(r => r.Jid).Order(StringComparer.Ordinal)];
        bool online = _rosterOnline.Contains(full) || groups.Length > 0;
        PeerRelationship relationship = PeerRelationship.None;
        if (jid.Bare == _account.Bare || (_roster.TryGetValue(jid.Bare, out RosterItem? item) && item.IsFriend))
        {
            relationship |= PeerRelationship.Friend;
        }

        if (groups.Length > 0)
        {
            relationship |= PeerRelationship.GroupMember;
        }

        _peers.TryGetValue(full, out OverlayPeer? previous);
        if (previous is null && (!online || relationship == PeerRelationship.None))
        {
            _announcements.Remove(full); // Not a peer: nothing of it is kept.
            return;
        }

        // An offline peer keeps its last announcement (its unavailable presence carries none), as the rest of its state.
        var current = new OverlayPeer(previous?.Id ?? new PeerId(full), jid.Bare, online ? PeerPresence.Online : PeerPresence.Offline, relationship, groups)
        {
            Announcement = _announcements.GetValueOrDefault(full),
        };
        if (previous is not null && previous.Presence == current.Presence && previous.Relationship == current.Relationship && SameGroups(previous.Groups, current.Groups)
            && previous.Announcement == current.Announcement)
        {
            return;
        }

        _peers[full] = current;
        if (current.Presence == PeerPresence.Offline)
        {
            _offlineSince[full] = _time.GetTimestamp();
        }
        else
        {
            _offlineSince.Remove(full);
        }

        PruneOfflineLocked();
        var args = new OverlayPeerEventArgs(previous, current) { SessionEnded = sessionEnded && current.Presence == PeerPresence.Offline };
        _events.Post(() => PeerChanged?.Invoke(this, args));
        if (current.Presence == PeerPresence.Online && current.Relationship != PeerRelationship.None)
        {
            ReleaseHeldLocked(current, full);
        }
    }

    // Under _gate, on every presence change (the only way the table grows): forgets peers offline for too long.
    private void PruneOfflineLocked()
    {
        if (_offlineSince.Count == 0)
        {
            return;
        }

        long now = _time.GetTimestamp();
        List<string>? expired = null;
        foreach ((string full, long since) in _offlineSince)
        {
            if (_time.GetElapsedTime(since, now) >= OfflineRetention)
            {
                (expired ??= []).Add(full);
            }
        }

        foreach (string full in expired ?? [])
        {
            _offlineSince.Remove(full);
            _peers.Remove(full);
            _announcements.Remove(full);
        }
    }
}
