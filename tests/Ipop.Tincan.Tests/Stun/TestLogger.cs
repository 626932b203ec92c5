using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Tests.Stun;

/// <summary>Collects formatted log lines so tests can assert what an operator would read.</summary>
internal sealed class TestLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IEnumerable<string> Messages => Entries.Select(e => e.Message);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception)));

    public bool Contains(string fragment) => Messages.Any(m => m.Contains(fragment, StringComparison.Ordinal));
}
