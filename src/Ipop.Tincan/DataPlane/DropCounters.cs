using System.Diagnostics;

namespace Ipop.Tincan.DataPlane;

/// <summary>Node-wide drop counters by <see cref="DropReason"/>, plus a per-reason log rate limit.</summary>
internal sealed class DropCounters
{
    private static readonly long LogInterval = Stopwatch.Frequency * 10;
    private readonly long[] _counts = new long[Enum.GetValues<DropReason>().Length];
    private readonly long[] _lastLogged = new long[Enum.GetValues<DropReason>().Length];

    public void Add(DropReason reason) => Interlocked.Increment(ref _counts[(int)reason]);

    public void Add(DropReason reason, long count) => Interlocked.Add(ref _counts[(int)reason], count);

    public long Get(DropReason reason) => Volatile.Read(ref _counts[(int)reason]);

    /// <summary>True at most once per 10 s per reason: floods of bad packets must not flood the log.</summary>
    public bool ShouldLog(DropReason reason)
    {
        long now = Stopwatch.GetTimestamp();
        long last = Volatile.Read(ref _lastLogged[(int)reason]);
        return (last == 0 || now - last >= LogInterval) && Interlocked.CompareExchange(ref _lastLogged[(int)reason], now, last) == last;
    }
}
