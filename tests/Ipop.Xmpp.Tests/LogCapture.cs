using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Tests;

/// <summary>Keeps the formatted log lines of one <see cref="XmppSignaling"/>, for assertions on what it tells the user.</summary>
public sealed class LogCapture : ILogger<XmppSignaling>
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public bool Has(string text) => Lines.Any(l => l.Contains(text, StringComparison.Ordinal));

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Lines.Enqueue(formatter(state, exception));
}
