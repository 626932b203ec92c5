using System.Collections.Concurrent;
using Ipop.Xmpp.Connection;
using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Xmpp.Tests.Connection;

public sealed class SkippedStanzaLogTests
{
    [Fact]
    public void Every_skip_is_counted_but_warnings_are_limited_per_window_and_name_the_sender_and_the_limit()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logger = new ListLogger();
        var log = new SkippedStanzaLog(logger, time);
        for (int i = 0; i < 20; i++)
        {
            log.Report(new SkippedStanza(StanzaSkipReason.TooDeep, "message", "mallory@lab.test/x", 1000, "nested deeper than 32 elements"));
        }

        Assert.Equal(20, log.Count);
        Assert.Equal(SkippedStanzaLog.PerWindow, logger.Lines.Count);
        (LogLevel level, string first) = logger.Lines.First();
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("mallory@lab.test/x", first, StringComparison.Ordinal);
        Assert.Contains("TooDeep", first, StringComparison.Ordinal);
        Assert.Contains("deeper than 32", first, StringComparison.Ordinal);

        // The next window logs again and says how many lines were held back.
        time.Advance(SkippedStanzaLog.Window);
        log.Report(new SkippedStanza(StanzaSkipReason.TooLarge, null, null, 300_000, "larger than the limit of 262144 bytes"));
        Assert.Equal(21, log.Count);
        (_, string next) = logger.Lines.Last();
        Assert.Contains("(unreadable)", next, StringComparison.Ordinal);
        Assert.Contains("15 more not logged", next, StringComparison.Ordinal);
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Lines.Enqueue((logLevel, formatter(state, exception)));
    }
}
