namespace Ipop.Controllers.Negotiation;

/// <summary>
/// Rate limit for log lines that a remote peer can trigger at will (refused offers, unsolicited answers):
/// at most one line per key per window, and the lines held back are counted and reported with the next one,
/// so a flood cannot fill the log but nothing goes unmentioned.
/// </summary>
internal sealed class LogBudget(TimeProvider time, TimeSpan window)
{
    // Bounded so that a stream of distinct keys cannot grow it without limit.
    private const int MaxKeys = 1024;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Whether a line for <paramref name="key"/> may be written now; if so, <paramref name="suppressed"/> is how many were held back since the last one.</summary>
    public bool TryTake(string key, out long suppressed)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_entries.TryGetValue(key, out Entry? e))
        {
            if (now - e.Since < window)
            {
                e.Suppressed++;
                suppressed = 0;
                return false;
            }

            suppressed = e.Suppressed;
            e.Since = now;
            e.Suppressed = 0;
            return true;
        }

        if (_entries.Count >= MaxKeys)
        {
            _entries.Clear();
        }

        _entries[key] = new Entry { Since = now };
        suppressed = 0;
        return true;
    }

    private sealed class Entry
    {
        public DateTimeOffset Since { get; set; }

        public long Suppressed { get; set; }
    }
}
