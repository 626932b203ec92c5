using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>Keeps every log line (level and text) so tests can assert what was said.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((logLevel, formatter(state, exception) + (exception is null ? string.Empty : " " + exception)));
}
