using Ipop.Xmpp.Xml;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Connection;

/// <summary>
/// Counts the stanzas the stream reader dropped (over-deep, oversized, malformed) across every
/// session of one node, and logs them as warnings at most <see cref="PerWindow"/> per
/// <see cref="Window"/>: any account on the server can send them, so one line each would let a
/// stranger flood our log.
/// </summary>
internal sealed partial class SkippedStanzaLog
{
    internal const int PerWindow = 5;
    internal static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private long _count;
    private long _windowStart;
    private int _loggedInWindow;
    private long _suppressed;

    public SkippedStanzaLog(ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
        _windowStart = time.GetTimestamp();
    }

    /// <summary>Stanzas skipped so far.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Report(SkippedStanza skipped)
    {
        long count = Interlocked.Increment(ref _count);
        long suppressed;
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            if (_time.GetElapsedTime(_windowStart, now) >= Window)
            {
                _windowStart = now;
                _loggedInWindow = 0;
            }

            if (_loggedInWindow >= PerWindow)
            {
                _suppressed++;
                return;
            }

            _loggedInWindow++;
            suppressed = _suppressed;
            _suppressed = 0;
        }

        LogSkipped(_logger, skipped.Name ?? "?", skipped.From ?? "(unreadable)", skipped.Reason, skipped.Detail, skipped.Bytes, count, suppressed);
    }

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Skipped a <{Stanza}> from {From}: {Reason}, {Detail} ({Bytes} bytes); {Count} skipped so far, {Suppressed} more not logged since the last line")]
    private static partial void LogSkipped(ILogger logger, string stanza, string from, StanzaSkipReason reason, string detail, long bytes, long count, long suppressed);
}
