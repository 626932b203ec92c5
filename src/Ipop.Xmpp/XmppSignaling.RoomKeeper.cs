using System.Net.Sockets;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Muc;
using Ipop.Xmpp.Stanzas;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp;

/// <summary>
/// Room keepers: one loop per wanted room and session that gets into the room (only if it exists, XEP-0045 §6.4)
/// and back in after being removed, logging each refusal and asking again with capped, jittered backoff.
/// </summary>
public sealed partial class XmppSignaling
{
    /// <summary>Cap of the delay between join attempts: a member that the owner adds gets in within this time.</summary>
    private static readonly TimeSpan RoomRetryMaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>How long <see cref="JoinGroupAsync"/> waits for the first attempt's outcome before leaving the rest to the keeper.</summary>
    private static readonly TimeSpan FirstAttemptWait = TimeSpan.FromSeconds(25);

    // The session the room keepers run on, set when a session comes up.
    private RoomSession? _roomSession;

    /// <summary>Called once a session is up: every wanted room gets a keeper on it.</summary>
    private void StartRoomKeepers(XmppConnection connection, Task loop)
    {
        var session = new RoomSession(connection, loop);
        MucRoom[] rooms;
        lock (_gate)
        {
            _roomSession = session;
            rooms = [.. _rooms.Values];
        }

        foreach (MucRoom room in rooms)
        {
            KeepRoom(session, room);
        }
    }

    /// <summary>Starts the room's keeper on this session unless one runs there already.</summary>
    private void KeepRoom(RoomSession session, MucRoom room)
    {
        lock (_gate)
        {
            if (ReferenceEquals(room.KeptOn, session.Connection) || room.Removed.IsCancellationRequested)
            {
                return;
            }

            room.KeptOn = session.Connection;
        }

        _ = Task.Run(() => KeepRoomAsync(session, room), CancellationToken.None);
    }

    /// <summary>
    /// Gets into the room and back in after being removed, for as long as the session lasts and we want the room:
    /// each failed attempt is logged with its reason and followed by a capped, jittered backoff (a room that does
    /// not exist yet, is locked while its creator configures it, or does not list us yet, will once the owner acts).
    /// </summary>
    private async Task KeepRoomAsync(RoomSession session, MucRoom room)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token, room.Removed.Token);
        int attempt = 0;
        try
        {
            while (!session.Loop.IsCompleted && !stop.IsCancellationRequested)
            {
                var left = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                bool inside;
                lock (_gate)
                {
                    room.Left = left;

                    // Only a join on this session counts: after a reconnect the room must be joined again, whatever
                    // the previous session left in Joined.
                    inside = room.Joined && ReferenceEquals(room.JoinedOn, session.Connection);
                }

                MucJoinResult result;
                try
                {
                    result = inside ? MucJoinResult.In(false, room.Affiliation) : await AttemptJoinAsync(session.Connection, room, stop.Token);
                }
                catch (XmppSignalingException ex)
                {
                    result = MucJoinResult.Refused("no-answer", ex.Message);
                }

                TaskCompletionSource<MucJoinResult> attempted;
                lock (_gate)
                {
                    attempted = room.Attempted;
                    room.Attempted = new TaskCompletionSource<MucJoinResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                attempted.TrySetResult(result);
                if (session.Loop.IsCompleted || stop.IsCancellationRequested)
                {
                    return;
                }

                if (!result.Joined)
                {
                    OnRoomJoinRefused(room, result);
                }
                else
                {
                    attempt = 0;
                    if (!inside)
                    {
                        long joinedAt = _time.GetTimestamp();
                        _ = Task.Run(() => SettleRoomAsync(session.Connection, session.Loop, room, joinedAt), CancellationToken.None);
                    }

                    if (result.Affiliation < GroupAffiliation.Member)
                    {
                        LogInOpenRoomWithoutMembership(_logger, room.Jid, _account.Bare);
                    }

                    // In the room: nothing to do until it removes us (kick, ban, membership revoked, destroyed).
                    Task ended = await Task.WhenAny(session.Loop, left.Task, Task.Delay(Timeout.Infinite, stop.Token));
                    if (ended != left.Task)
                    {
                        return;
                    }
                }

                TimeSpan delay = RoomBackoff(attempt++);
                LogJoinOutcome(room.Jid, result, delay);
                await Task.WhenAny(session.Loop, Task.Delay(delay, _time, stop.Token));
            }
        }
        catch (OperationCanceledException)
        {
        }
#pragma warning disable CA1031 // A keeper must end with a log line, never crash the process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogRoomJoinFailed(_logger, room.Jid, ex.Message);
        }
        finally
        {
            lock (_gate)
            {
                if (ReferenceEquals(room.KeptOn, session.Connection))
                {
                    room.KeptOn = null;
                }
            }
        }
    }

    private TimeSpan RoomBackoff(int attempt)
    {
        TimeSpan delay = Backoff(attempt);
        return delay > RoomRetryMaxDelay ? RoomRetryMaxDelay * (0.5 + (Random.Shared.NextDouble() * 0.5)) : delay;
    }

    private void LogJoinOutcome(string room, MucJoinResult result, TimeSpan delay)
    {
        int seconds = (int)Math.Ceiling(delay.TotalSeconds);
        switch (result.Condition)
        {
            case null:
                break; // Removed from the room: logged when it happened.
            case "registration-required":
                LogNotMemberYet(_logger, room, _account.Bare, seconds);
                break;
            case "item-not-found":
                LogRoomMissing(_logger, room, seconds);
                break;
            case "forbidden":
                LogBanned(_logger, room, _account.Bare, seconds);
                break;
            default:
                LogJoinRetry(_logger, room, result.Detail ?? result.Condition, seconds);
                break;
        }
    }

    /// <summary>
    /// One attempt: ask whether the room exists (XEP-0045 §6.4) and join it only if so, since a join to a missing
    /// room would create it and make us its owner. If our join creates the room anyway (it vanished in between),
    /// we lock it down at once; if we own an open room (made before groups were members-only), we convert it.
    /// </summary>
    private async Task<MucJoinResult> AttemptJoinAsync(XmppConnection connection, MucRoom room, CancellationToken cancellationToken)
    {
        MucRoomInfo? info;
        try
        {
            info = await RoomInfoAsync(connection, room.Jid, cancellationToken);
        }
        catch (XmppSignalingException)
        {
            info = new MucRoomInfo(true, true, true); // A service that will not describe the room: let the join decide.
        }

        if (info is null)
        {
            return MucJoinResult.Refused("item-not-found", "the room does not exist");
        }

        MucJoinResult result = await JoinOnConnectionAsync(connection, room, marker: true, cancellationToken);
        if (!result.Joined)
        {
            return result;
        }

        if (result.Created)
        {
            await ConfigureRoomAsync(connection, room.Jid, membersOnly: true, cancellationToken);
            LogCreatedByJoin(_logger, room.Jid, _account.Bare);
        }
        else if (result.Affiliation == GroupAffiliation.Owner && !info.FitForIpop)
        {
            try
            {
                await LockDownRoomAsync(connection, room.Jid, info, cancellationToken);
            }
            catch (XmppSignalingException ex)
            {
                LogRoomJoinFailed(_logger, room.Jid, ex.Message);
            }
        }

        return result;
    }

    /// <summary>Joins and waits for our own presence echo (status 110) or an error presence.</summary>
    private async Task<MucJoinResult> JoinOnConnectionAsync(XmppConnection connection, MucRoom room, bool marker, CancellationToken cancellationToken)
    {
        TaskCompletionSource<MucJoinResult> join;
        bool send;
        string? announcement = null;
        lock (_gate)
        {
            // A join already in flight (two callers at once) is shared rather than sent twice.
            send = room.Join is not { Task.IsCompleted: false };
            if (send)
            {
                room.Join = new TaskCompletionSource<MucJoinResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (marker)
                {
                    announcement = _announcement;
                    room.AnnouncedVersion = _announcementVersion;
                }
            }

            join = room.Join!;
        }

        if (send)
        {
            try
            {
                await connection.SendAsync(StanzaBuilder.MucJoin(room.OccupantJid, marker, announcement), cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
            {
                throw new XmppSignalingException(XmppErrorKind.Network, $"Cannot join {room.Jid}: {ex.Message}", ex);
            }
        }

        try
        {
            MucJoinResult result = await join.Task.WaitAsync(JoinTimeout, _time, cancellationToken);
            if (result.Joined)
            {
                long announced;
                lock (_gate)
                {
                    room.JoinedOn = connection;
                    announced = room.AnnouncedVersion;
                }

                if (marker)
                {
                    RepublishIfStale(announced); // Changed while the join was on its way (not joined yet: not sent then).
                }
            }

            return result;
        }
        catch (TimeoutException ex)
        {
            throw new XmppSignalingException(XmppErrorKind.Request, $"Room {room.Jid} did not answer our join within {JoinTimeout.TotalSeconds:0} s.", ex);
        }
    }

    private sealed record RoomSession(XmppConnection Connection, Task Loop);

    [LoggerMessage(EventId = 240, Level = LogLevel.Warning, Message = "Not a member of {Room} yet ({User} is not on its member list); the owner adds members with `groupvpn members add`; asking again in {Seconds} s")]
    private static partial void LogNotMemberYet(ILogger logger, string room, string user, int seconds);

    [LoggerMessage(EventId = 241, Level = LogLevel.Warning, Message = "Room {Room} does not exist yet (or is locked while its owner configures it); the owner creates it with `groupvpn members add`; asking again in {Seconds} s")]
    private static partial void LogRoomMissing(ILogger logger, string room, int seconds);

    [LoggerMessage(EventId = 242, Level = LogLevel.Error, Message = "Room {Room} bans {User} (forbidden); only its owner can lift the ban; asking again in {Seconds} s")]
    private static partial void LogBanned(ILogger logger, string room, string user, int seconds);

    [LoggerMessage(EventId = 243, Level = LogLevel.Warning, Message = "Joining room {Room} failed: {Reason}; asking again in {Seconds} s")]
    private static partial void LogJoinRetry(ILogger logger, string room, string reason, int seconds);

    [LoggerMessage(EventId = 244, Level = LogLevel.Warning, Message = "Our join created room {Room} (it vanished after we saw it): configured it members-only with {User} as owner")]
    private static partial void LogCreatedByJoin(ILogger logger, string room, string user);

    [LoggerMessage(EventId = 248, Level = LogLevel.Warning, Message = "In room {Room}, but {User} is not on its member list: no member links to us until the owner adds us (`groupvpn members add`)")]
    private static partial void LogInOpenRoomWithoutMembership(ILogger logger, string room, string user);
}
