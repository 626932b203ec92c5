using Ipop.Controllers.Negotiation;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// The negotiator's source-generated log messages (event ids 101-118; 119-120 in LinkNegotiator.Presence, 121-124 in LinkNegotiator.Wants).
/// </summary>
public sealed partial class LinkNegotiator
{
    [LoggerMessage(101, LogLevel.Information, "peer {Peer} is trusted and online")]
    private static partial void LogPeerTrusted(ILogger logger, string peer);

    [LoggerMessage(102, LogLevel.Information, "peer {Peer} gone ({Presence}, {Relationship}): link removed, key revoked")]
    private static partial void LogPeerGone(ILogger logger, string peer, string presence, string relationship);

    [LoggerMessage(103, LogLevel.Information, "refused {Kind} from {Peer}: {Reason} ({Suppressed} more refusals from this peer not logged)")]
    private static partial void LogRefused(ILogger logger, string kind, string peer, string reason, long suppressed);

    [LoggerMessage(104, LogLevel.Debug, "ignored a copy of {Kind} from {Peer}: that exchange is done or under way")]
    private static partial void LogDuplicate(ILogger logger, string kind, string peer);

    [LoggerMessage(105, LogLevel.Information, "link {Peer} up ({Path})")]
    private static partial void LogLinkUp(ILogger logger, string peer, string path);

    [LoggerMessage(106, LogLevel.Warning, "link {Peer}: {Status}")]
    private static partial void LogLinkFailed(ILogger logger, string peer, string status);

    [LoggerMessage(107, LogLevel.Debug, "sent {Kind} to {Peer}")]
    private static partial void LogSent(ILogger logger, string kind, string peer);

    [LoggerMessage(108, LogLevel.Warning, "could not send {Kind} to {Peer}: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string kind, string peer, string reason);

    [LoggerMessage(109, LogLevel.Error, "controller event {Event} failed")]
    private static partial void LogEventFailed(ILogger logger, string @event, Exception exception);

    [LoggerMessage(110, LogLevel.Information, "link {Peer}: {Reason}; attempt {Attempt}, next one in about {DelaySeconds:0.0} s unless it comes up")]
    private static partial void LogRetry(ILogger logger, string peer, string reason, int attempt, double delaySeconds);

    [LoggerMessage(111, LogLevel.Debug, "link {Peer} kept ({State}): the message carried the descriptor it was made from")]
    private static partial void LogKept(ILogger logger, string peer, string state);

    [LoggerMessage(112, LogLevel.Debug, "link {Peer} created from its {Kind}")]
    private static partial void LogLinkCreated(ILogger logger, string peer, string kind);

    [LoggerMessage(113, LogLevel.Warning, "key {Key} was bound to {Holder} without a handshake proving it; it now goes to {Peer}")]
    private static partial void LogKeyRebound(ILogger logger, string key, string holder, string peer);

    [LoggerMessage(114, LogLevel.Warning, "signaling lost ({Reason}): keeping {Links} links for up to {LifetimeSeconds} s; no new links until it is back")]
    private static partial void LogSignalingLost(ILogger logger, string reason, int links, double lifetimeSeconds);

    [LoggerMessage(115, LogLevel.Information, "signaling back after {Seconds:0.0} s (links had ended: {Ended}); re-checking every peer and retrying now")]
    private static partial void LogSignalingBack(ILogger logger, double seconds, bool ended);

    [LoggerMessage(117, LogLevel.Information, "peer {Peer} is not back since signaling returned: its link stays for up to {GraceSeconds:0} s more while it reconnects")]
    private static partial void LogDeferred(ILogger logger, string peer, double graceSeconds);

    [LoggerMessage(116, LogLevel.Warning, "signaling down for {Seconds:0} s: ending {Links} links whose peers' membership could not be re-checked")]
    private static partial void LogOutageLinksEnded(ILogger logger, int links, double seconds);
}
