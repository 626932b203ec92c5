namespace Ipop.Tincan.DataPlane;

/// <summary>
/// How many events of one kind are allowed per one-second window (answers to Binding requests, authenticated
/// connectivity checks): the rest are refused so a flood costs bounded CPU and bandwidth. One thread only (the
/// socket's receive thread), so no synchronization.
/// </summary>
internal sealed class PerSecondBudget(TimeProvider time, int perSecond)
{
    private long _windowStart;
    private int _used;

    /// <summary>Takes one event from the current window's budget; false when it is spent.</summary>
    public bool TryTake()
    {
        long now = time.GetTimestamp();
        if (time.GetElapsedTime(_windowStart, now) >= TimeSpan.FromSeconds(1))
        {
            _windowStart = now;
            _used = 0;
        }

        if (_used >= perSecond)
        {
            return false;
        }

        _used++;
        return true;
    }
}
