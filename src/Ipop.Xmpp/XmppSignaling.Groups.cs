using System.Xml.Linq;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp;

/// <summary>
/// Groups (XEP-0045 rooms): the member list of a members-only room is the group. Nodes join rooms that exist
/// and keep asking, with capped backoff, while the room is missing, locked or refuses them (the keepers, in
/// XmppSignaling.RoomKeeper.cs); only the owner (or an admin) creates the room and edits its member list.
/// </summary>
public sealed partial class XmppSignaling
{
    private static readonly GroupAffiliation[] ListedAffiliations = [GroupAffiliation.Owner, GroupAffiliation.Admin, GroupAffiliation.Member];

    // Rooms we enter only to create them for their owner (AddGroupMemberAsync), not as a node: their presence is
    // handled like a room's, but they never make anybody a group member.
    private readonly Dictionary<string, MucRoom> _managedRooms = new(StringComparer.Ordinal);

    /// <inheritdoc />
    /// <remarks>
    /// Waits for the first join attempt only. If the room does not exist yet, is locked while its creator configures
    /// it, or we are not a member yet, this logs why and returns; the node keeps asking in the background (capped
    /// backoff with jitter) until it gets in or leaves the group. The room is never created here: a node that is
    /// not the owner must not end up owning the group.
    /// </remarks>
    /// <exception cref="XmppSignalingException">The room banned us (<c>forbidden</c>).</exception>
    public async Task JoinGroupAsync(string group, CancellationToken cancellationToken)
    {
        string roomJid = RoomJid(group);
        MucRoom room;
        RoomSession? session;
        Task<MucJoinResult> attempted;
        lock (_gate)
        {
            room = WantRoomLocked(roomJid);
            if (room.Joined && ReferenceEquals(room.JoinedOn, _connection))
            {
                return;
            }

            session = _connected && _roomSession is { } s && ReferenceEquals(s.Connection, _connection) ? s : null;
            attempted = room.Attempted.Task;
        }

        if (session is null)
        {
            return; // Joined when the session comes up.
        }

        KeepRoom(session, room);
        MucJoinResult result;
        try
        {
            result = await attempted.WaitAsync(FirstAttemptWait, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return; // The keeper goes on and logs each outcome.
        }

        if (result.Condition == "forbidden")
        {
            ForgetRoom(room);
            throw new XmppSignalingException(XmppErrorKind.Request, $"Room {roomJid} refused {_account.Bare}: banned (forbidden). Only its owner can lift the ban (groupvpn members add).");
        }
    }

    /// <summary>
    /// Creates (or joins) a room and, as its owner, configures it for Ipop (XEP-0045 §10.1–10.2): real
    /// JIDs visible to all occupants, persistent, optionally members-only.
    /// </summary>
    /// <param name="group">Room name under <see cref="XmppSignalingOptions.MucService"/> or a bare room JID.</param>
    /// <param name="membersOnly">Only users with membership (see <see cref="AddGroupMemberAsync"/>) may join. Ipop groups should always be members-only.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <exception cref="XmppSignalingException">The room refused us or the configuration (e.g. we are not its owner).</exception>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    public async Task CreateGroupAsync(string group, bool membersOnly, CancellationToken cancellationToken)
    {
        string roomJid = RoomJid(group);
        XmppConnection connection = RequireConnection();
        MucRoom room;
        RoomSession? session;
        bool inside;
        lock (_gate)
        {
            room = WantRoomLocked(roomJid);
            session = _roomSession is { } s && ReferenceEquals(s.Connection, connection) ? s : null;
            inside = room.Joined && ReferenceEquals(room.JoinedOn, connection);
        }

        MucJoinResult result = inside ? MucJoinResult.In(false, room.Affiliation) : await JoinOnConnectionAsync(connection, room, marker: true, cancellationToken);
        if (!result.Joined)
        {
            ForgetRoom(room);
            throw new XmppSignalingException(XmppErrorKind.Request, $"Room {roomJid} refused our join: {result.Detail}.");
        }

        await ConfigureRoomAsync(connection, roomJid, membersOnly, cancellationToken);
        if (session is not null)
        {
            KeepRoom(session, room); // Back in after a kick or a reconnect.
        }
    }

    /// <inheritdoc />
    public async Task LeaveGroupAsync(string group, CancellationToken cancellationToken)
    {
        string room = RoomJid(group);
        XmppConnection? connection;
        MucRoom? left;
        lock (_gate)
        {
            connection = _connected ? _connection : null;
            if (!_rooms.Remove(room, out left))
            {
                return;
            }

            _occupantsUnconfirmed.Remove(room);

            string[] occupants = [.. left.Occupants.Values.Select(o => o.RealJid)];
            left.Occupants.Clear();
            left.Joined = false;
            foreach (string full in occupants)
            {
                RecomputeLocked(full);
            }
        }

        await left.Removed.CancelAsync();
        if (connection is not null)
        {
            await SendOnAsync(connection, StanzaBuilder.MucLeave(left.OccupantJid), cancellationToken);
        }
    }

    /// <summary>
    /// The group's member list: every user with member, admin or owner affiliation (XEP-0045 §9.5, §10.5, §10.8).
    /// </summary>
    /// <param name="group">Room name under <see cref="XmppSignalingOptions.MucService"/> or a bare room JID.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>Owners first, then admins, then members, each sorted by JID.</returns>
    /// <exception cref="XmppSignalingException">The room does not exist, or refuses to show us its lists (we are not its owner or admin).</exception>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    public async Task<IReadOnlyList<GroupMember>> GetGroupMembersAsync(string group, CancellationToken cancellationToken)
    {
        string roomJid = RoomJid(group);
        XmppConnection connection = RequireConnection();
        var members = new Dictionary<string, GroupMember>(StringComparer.Ordinal);
        foreach (GroupAffiliation affiliation in ListedAffiliations)
        {
            string name = MucAffiliations.Name(affiliation);
            XElement reply = await AdminRequestAsync(connection, roomJid, StanzaBuilder.MucAffiliationList(NextId(), roomJid, name), $"list the {name}s of", cancellationToken);
            XElement? query = reply.Element(XName.Get("query", XmppNamespaces.MucAdmin));
            foreach (XElement item in query?.Elements(XName.Get("item", XmppNamespaces.MucAdmin)) ?? [])
            {
                if (Jid.TryParse((string?)item.Attribute("jid"), out Jid user))
                {
                    members.TryAdd(user.Bare, new GroupMember(user.Bare, affiliation));
                }
            }
        }

        return [.. members.Values.OrderByDescending(m => m.Affiliation).ThenBy(m => m.User, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Adds a user to the group (member affiliation, XEP-0045 §9.3). A room that does not exist yet is created with
    /// us as its owner and configured members-only, persistent and non-anonymous (§10.1); an existing room that is
    /// not is reconfigured so (which needs us to be its owner).
    /// </summary>
    /// <param name="group">Room name under <see cref="XmppSignalingOptions.MucService"/> or a bare room JID.</param>
    /// <param name="user">The user's bare JID.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>True if the user was added; false if already a member, admin or owner.</returns>
    /// <exception cref="XmppSignalingException">The room refused (we are not its owner or admin); the message says so.</exception>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    public async Task<bool> AddGroupMemberAsync(string group, string user, CancellationToken cancellationToken)
    {
        Jid jid = ParseUser(user);
        string roomJid = RoomJid(group);
        XmppConnection connection = RequireConnection();
        MucRoomInfo? info = await RoomInfoAsync(connection, roomJid, cancellationToken);
        if (info is null)
        {
            await CreateRoomAsync(connection, roomJid, cancellationToken);
        }
        else if (!info.FitForIpop)
        {
            await LockDownRoomAsync(connection, roomJid, info, cancellationToken);
        }

        IReadOnlyList<GroupMember> current = await GetGroupMembersAsync(roomJid, cancellationToken);
        if (current.Any(m => m.User == jid.Bare))
        {
            return false;
        }

        await AdminRequestAsync(connection, roomJid, StanzaBuilder.MucAffiliation(NextId(), roomJid, jid.Bare, "member"), "add members to", cancellationToken);
        LogMemberChanged(_logger, jid.Bare, "added to", roomJid);
        return true;
    }

    /// <summary>
    /// Removes a user from the group (affiliation none, XEP-0045 §9.4): the room removes the user's nodes at once
    /// (status 321) and every member sees them leave the group.
    /// </summary>
    /// <param name="group">Room name under <see cref="XmppSignalingOptions.MucService"/> or a bare room JID.</param>
    /// <param name="user">The user's bare JID; not our own (an owner does not remove itself).</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>True if the user was removed; false if not on the member list.</returns>
    /// <exception cref="XmppSignalingException">The room does not exist or refused (we are not its owner or admin).</exception>
    /// <exception cref="ArgumentException"><paramref name="user"/> is not a user JID, or is our own account.</exception>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    public async Task<bool> RemoveGroupMemberAsync(string group, string user, CancellationToken cancellationToken)
    {
        Jid jid = ParseUser(user);
        if (jid.Bare == _account.Bare)
        {
            throw new ArgumentException($"'{user}' is this account; the group's owner does not remove itself.", nameof(user));
        }

        string roomJid = RoomJid(group);
        XmppConnection connection = RequireConnection();
        IReadOnlyList<GroupMember> current = await GetGroupMembersAsync(roomJid, cancellationToken);
        if (!current.Any(m => m.User == jid.Bare))
        {
            return false;
        }

        await AdminRequestAsync(connection, roomJid, StanzaBuilder.MucAffiliation(NextId(), roomJid, jid.Bare, "none"), "remove members from", cancellationToken);
        LogMemberChanged(_logger, jid.Bare, "removed from", roomJid);
        return true;
    }

    /// <summary>Grants or revokes a user's membership of a room we own (XEP-0045 §9.3/§9.4).</summary>
    /// <param name="group">Room name or bare room JID.</param>
    /// <param name="user">The user's bare JID.</param>
    /// <param name="member">True to grant (see <see cref="AddGroupMemberAsync"/>), false to revoke (see <see cref="RemoveGroupMemberAsync"/>).</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <exception cref="XmppSignalingException">The room refused (we are not owner or admin).</exception>
    public async Task SetGroupMembershipAsync(string group, string user, bool member, CancellationToken cancellationToken)
    {
        _ = member ? await AddGroupMemberAsync(group, user, cancellationToken) : await RemoveGroupMemberAsync(group, user, cancellationToken);
    }

    private MucRoom WantRoomLocked(string roomJid)
    {
        if (!_rooms.TryGetValue(roomJid, out MucRoom? room))
        {
            room = new MucRoom(roomJid, Nickname);
            _rooms[roomJid] = room;
        }

        return room;
    }

    private void ForgetRoom(MucRoom room)
    {
        lock (_gate)
        {
            if (!room.Joined && _rooms.TryGetValue(room.Jid, out MucRoom? current) && ReferenceEquals(current, room))
            {
                _rooms.Remove(room.Jid);
                _occupantsUnconfirmed.Remove(room.Jid);
            }
        }

        room.Removed.Cancel();
    }

    /// <summary>The room's features, or null if it does not exist (item-not-found).</summary>
    private async Task<MucRoomInfo?> RoomInfoAsync(XmppConnection connection, string roomJid, CancellationToken cancellationToken)
    {
        XElement reply = await RequestAsync(connection, StanzaBuilder.DiscoInfo(NextId(), roomJid), JoinTimeout, cancellationToken, acceptError: true);
        if (StanzaReader.Type(reply, "result") != "error")
        {
            return MucRoomInfo.Parse(reply.Element(XName.Get("query", XmppNamespaces.DiscoInfo)));
        }

        string condition = StanzaReader.ErrorConditionName(reply);
        return condition == "item-not-found"
            ? null
            : throw new XmppSignalingException(XmppErrorKind.Request, $"{roomJid} refused to describe itself: {StanzaReader.ErrorCondition(reply)}.");
    }

    /// <summary>Creates a room for its owner: join (status 201: new and locked, §10.1.1), configure members-only at once, and leave unless we are a node of the group.</summary>
    private async Task CreateRoomAsync(XmppConnection connection, string roomJid, CancellationToken cancellationToken)
    {
        MucRoom room;
        bool wanted;
        lock (_gate)
        {
            wanted = _rooms.TryGetValue(roomJid, out room!);
            if (!wanted)
            {
                room = new MucRoom(roomJid, Nickname);
                _managedRooms[roomJid] = room;
            }
        }

        try
        {
            MucJoinResult result = await JoinOnConnectionAsync(connection, room, marker: wanted, cancellationToken);
            if (!result.Joined)
            {
                throw new XmppSignalingException(XmppErrorKind.Request, $"Cannot create room {roomJid}: {result.Detail}.");
            }

            if (!result.Created && result.Affiliation != GroupAffiliation.Owner)
            {
                throw new XmppSignalingException(XmppErrorKind.Request, $"Room {roomJid} was just created by someone else; {_account.Bare} is not its owner.");
            }

            await ConfigureRoomAsync(connection, roomJid, membersOnly: true, cancellationToken);
            LogRoomCreated(_logger, roomJid, _account.Bare);
        }
        finally
        {
            if (!wanted)
            {
                lock (_gate)
                {
                    _managedRooms.Remove(roomJid);
                }

                if (room.Joined)
                {
                    await SendOnAsync(connection, StanzaBuilder.MucLeave(room.OccupantJid), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
    }

    /// <summary>Migration of a room made before groups were members-only: its owner makes it members-only, persistent and non-anonymous.</summary>
    private async Task LockDownRoomAsync(XmppConnection connection, string roomJid, MucRoomInfo info, CancellationToken cancellationToken)
    {
        string[] outsiders;
        lock (_gate)
        {
            outsiders = _rooms.TryGetValue(roomJid, out MucRoom? room)
                ? [.. room.Occupants.Values.Where(o => !MucAffiliations.IsMember(o.Affiliation)).Select(o => Jid.Parse(o.RealJid).Bare).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]
                : [];
        }

        try
        {
            await ConfigureRoomAsync(connection, roomJid, membersOnly: true, cancellationToken);
        }
        catch (XmppSignalingException ex)
        {
            throw new XmppSignalingException(XmppErrorKind.Request, $"Room {roomJid} is {info} and {_account.Bare} cannot make it members-only (not its owner?): {ex.Message}", ex);
        }

        LogRoomConverted(_logger, roomJid, info.ToString(), outsiders.Length == 0 ? "none" : string.Join(", ", outsiders));
    }

    private async Task ConfigureRoomAsync(XmppConnection connection, string roomJid, bool membersOnly, CancellationToken cancellationToken)
    {
        await RequestAsync(connection, StanzaBuilder.MucConfigure(NextId(), roomJid, membersOnly, persistent: true), TimeSpan.FromSeconds(10), cancellationToken);
        LogRoomConfigured(_logger, roomJid, membersOnly);
    }

    /// <summary>A muc#admin request; refusals become messages that say who may do it.</summary>
    private async Task<XElement> AdminRequestAsync(XmppConnection connection, string roomJid, XElement iq, string what, CancellationToken cancellationToken)
    {
        XElement reply = await RequestAsync(connection, iq, TimeSpan.FromSeconds(10), cancellationToken, acceptError: true);
        if (StanzaReader.Type(reply, "result") != "error")
        {
            return reply;
        }

        string condition = StanzaReader.ErrorConditionName(reply);
        throw condition switch
        {
            "item-not-found" => new XmppSignalingException(XmppErrorKind.Request, $"Room {roomJid} does not exist; adding a member creates it with {_account.Bare} as its owner."),
            "forbidden" or "not-allowed" or "not-authorized" => new XmppSignalingException(XmppErrorKind.Request, $"{_account.Bare} may not {what} room {roomJid} ({condition}): only its owner or an admin manages the members."),
            _ => new XmppSignalingException(XmppErrorKind.Request, $"Room {roomJid} refused to let {_account.Bare} {what} it: {StanzaReader.ErrorCondition(reply)}."),
        };
    }

    [LoggerMessage(EventId = 245, Level = LogLevel.Information, Message = "Created room {Room}: members-only, persistent, real JIDs visible to members; owner {User}")]
    private static partial void LogRoomCreated(ILogger logger, string room, string user);

    [LoggerMessage(EventId = 246, Level = LogLevel.Warning, Message = "Converted room {Room} (was {Was}) to members-only as its owner: only users on its member list stay in the group; occupants without membership: {Outsiders}")]
    private static partial void LogRoomConverted(ILogger logger, string room, string was, string outsiders);

    [LoggerMessage(EventId = 247, Level = LogLevel.Information, Message = "{User} {Change} group {Room}")]
    private static partial void LogMemberChanged(ILogger logger, string user, string change, string room);

    [LoggerMessage(EventId = 249, Level = LogLevel.Warning, Message = "Removed from room {Room}: {Reason}")]
    private static partial void LogRemovedFromRoom(ILogger logger, string room, string reason);

    [LoggerMessage(EventId = 250, Level = LogLevel.Information, Message = "Refused {Occupant} ({RealJid}) in room {Room}: affiliation {Affiliation} is not group membership, no link")]
    private static partial void LogNotAGroupMember(ILogger logger, string occupant, string realJid, string room, GroupAffiliation affiliation);

    [LoggerMessage(EventId = 251, Level = LogLevel.Information, Message = "Our affiliation in room {Room} changed from {Before} to {After}")]
    private static partial void LogOwnAffiliation(ILogger logger, string room, GroupAffiliation before, GroupAffiliation after);
}
