using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Api.Internal;

/// <summary>The API server's log messages (event ids 100..199).</summary>
internal static partial class ApiLog
{
    [LoggerMessage(100, LogLevel.Information, "Controller API listening on {SocketPath}")]
    public static partial void Listening(ILogger logger, string socketPath);

    [LoggerMessage(101, LogLevel.Information, "Controller API stopped; removed {SocketPath}")]
    public static partial void Stopped(ILogger logger, string socketPath);

    [LoggerMessage(102, LogLevel.Debug, "Controller session {Session} connected")]
    public static partial void Connected(ILogger logger, int session);

    [LoggerMessage(103, LogLevel.Debug, "Controller session {Session} disconnected")]
    public static partial void Disconnected(ILogger logger, int session);

    [LoggerMessage(104, LogLevel.Warning, "Controller connection refused: {MaxClients} clients are connected already")]
    public static partial void TooManyClients(ILogger logger, int maxClients);

    [LoggerMessage(105, LogLevel.Information, "Controller session {Session} now controls this Tincan")]
    public static partial void OwnerClaimed(ILogger logger, int session);

    [LoggerMessage(106, LogLevel.Information, "Controller session {Session} released control of this Tincan")]
    public static partial void OwnerReleased(ILogger logger, int session);

    [LoggerMessage(107, LogLevel.Debug, "Controller session {Session}: request failed with {Code}: {Message}")]
    public static partial void RequestFailed(ILogger logger, int session, string code, string message);

    [LoggerMessage(108, LogLevel.Error, "Controller session {Session}: operation {Op} failed unexpectedly")]
    public static partial void OperationCrashed(ILogger logger, int session, string op, Exception exception);

    [LoggerMessage(109, LogLevel.Debug, "Controller session {Session} is not reading: dropped {Dropped} events ({Total} in total)")]
    public static partial void EventsDropped(ILogger logger, int session, long dropped, long total);

    [LoggerMessage(110, LogLevel.Error, "Controller API could not deliver a Tincan event")]
    public static partial void EventFailed(ILogger logger, Exception exception);

    [LoggerMessage(111, LogLevel.Warning, "Controller API accept loop failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);
}
