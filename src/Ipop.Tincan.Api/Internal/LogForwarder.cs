using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// An <see cref="ILoggerProvider"/> that turns the host's log records into <c>log</c> events for clients
/// that subscribed. Records are only formatted when some client wants their level. The API's own
/// categories are left out so that logging about a slow client cannot feed itself.
/// </summary>
internal sealed class LogForwarder : ILoggerProvider
{
    private ControllerApiServer? _server;

    public void Attach(ControllerApiServer server) => Volatile.Write(ref _server, server);

    public void Detach(ControllerApiServer server) => Interlocked.CompareExchange(ref _server, null, server);

    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith("Ipop.Tincan.Api", StringComparison.Ordinal) ? NullLogger.Instance : new ForwardingLogger(this, categoryName);

    public void Dispose() => Volatile.Write(ref _server, null);

    private sealed class ForwardingLogger(LogForwarder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel != LogLevel.None && Volatile.Read(ref owner._server) is { } server && logLevel >= server.LogThreshold;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || Volatile.Read(ref owner._server) is not { } server)
            {
                return;
            }

            string message = formatter(state, exception);
            if (exception is not null)
            {
                message = $"{message} ({exception.GetType().Name}: {exception.Message})";
            }

            server.PublishLog(logLevel, category, eventId.Id, message);
        }
    }
}

internal static class LogLevels
{
    public static readonly string[] Accepted = ["trace", "debug", "information", "warning", "error", "critical", "none"];

    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "information",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };

    public static LogLevel? Parse(string name) => name switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "information" or "info" => LogLevel.Information,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "critical" => LogLevel.Critical,
        "none" => LogLevel.None,
        _ => null,
    };
}
