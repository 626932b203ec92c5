using System.Net;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp;

/// <summary>Source-generated log messages (event ids 200-299).</summary>
public sealed partial class XmppSignaling
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "XMPP session lost: {Reason}")]
    private static partial void LogDisconnected(ILogger logger, string reason);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "XMPP session back as {Jid} after {Attempts} attempt(s)")]
    private static partial void LogReconnected(ILogger logger, string jid, int attempts);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "XMPP reconnect attempt {Attempt} failed: {Reason}")]
    private static partial void LogReconnectFailed(ILogger logger, int attempt, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "XMPP stream error {Condition}: {Reason}")]
    private static partial void LogBadStream(ILogger logger, string condition, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "XMPP keepalive failed: {Reason}")]
    private static partial void LogKeepaliveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "Joining room {Room} failed: {Reason}")]
    private static partial void LogRoomJoinFailed(ILogger logger, string room, string reason);

    [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "Configured room {Room} (members only: {MembersOnly})")]
    private static partial void LogRoomConfigured(ILogger logger, string room, bool membersOnly);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "Room {Room} hides real JIDs (semi-anonymous): its members cannot be linked; configure muc#roomconfig_whois=anyone")]
    private static partial void LogAnonymousRoom(ILogger logger, string room);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "Ignored a roster push from {From} (not our account)")]
    private static partial void LogSpoofedPush(ILogger logger, string from);

    [LoggerMessage(EventId = 209, Level = LogLevel.Information, Message = "Refused friend request from {User} (policy)")]
    private static partial void LogFriendRequestRefused(ILogger logger, string user);

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Dropped message from {From}: {Reason} ({Count} dropped so far)")]
    private static partial void LogMessageDropped(ILogger logger, string from, string reason, long count);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "Dropped a <{Stanza}> that could not be handled: {Reason}")]
    private static partial void LogStanzaDropped(ILogger logger, string stanza, string reason);

    [LoggerMessage(EventId = 212, Level = LogLevel.Error, Message = "An event handler threw")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 213, Level = LogLevel.Information, Message = "Presence settled {Seconds} s after the reconnect: {Count} peer(s) not heard from again reported offline")]
    private static partial void LogSettled(ILogger logger, int count, double seconds);

    [LoggerMessage(EventId = 214, Level = LogLevel.Warning, Message = "XMPP login attempt {Attempt} failed: {Reason}; retrying in {Delay}")]
    private static partial void LogLoginRetry(ILogger logger, int attempt, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 215, Level = LogLevel.Information, Message = "The network changed: checking the XMPP session now")]
    private static partial void LogVerifyingConnection(ILogger logger);

    [LoggerMessage(EventId = 216, Level = LogLevel.Warning, Message = "The XMPP connection's local address {Address} is gone: reconnecting at once")]
    private static partial void LogLocalAddressGone(ILogger logger, IPAddress address);
}
