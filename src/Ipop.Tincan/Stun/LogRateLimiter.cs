namespace Ipop.Tincan.Stun;

/// <summary>
/// Lets one log line through per interval so a flood of bad datagrams cannot flood the log; callers
/// count every drop regardless. Lock-free; a rare extra line under a race is harmless.
/// </summary>
internal sealed class LogRateLimiter(TimeProvider time, TimeSpan interval)
{
    private long _nextAllowed;

    public bool ShouldLog()
    {
        long now = time.GetTimestamp();
        long next = Volatile.Read(ref _nextAllowed);
        if (now < next)
        {
            return false;
        }

        long intervalTicks = (long)(interval.TotalSeconds * time.TimestampFrequency);
        return Interlocked.CompareExchange(ref _nextAllowed, now + intervalTicks, next) == next;
    }
}
