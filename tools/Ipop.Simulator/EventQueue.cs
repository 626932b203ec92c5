namespace Ipop.Simulator;

/// <summary>
/// The virtual clock: a discrete-event queue ordered by time, then by insertion, so equal times run in the order
/// they were scheduled and a run is reproducible. Time is in microseconds.
/// </summary>
internal sealed class EventQueue
{
    private readonly PriorityQueue<SimEvent, (long Time, long Seq)> _queue = new();
    private long _seq;

    /// <summary>The current simulated time in microseconds.</summary>
    public long Now { get; private set; }

    /// <summary>Seconds since the start.</summary>
    public double Seconds => Now / 1e6;

    /// <summary>Events processed so far.</summary>
    public long Processed { get; private set; }

    /// <summary>Events waiting.</summary>
    public int Count => _queue.Count;

    /// <summary>Schedules <paramref name="e"/> after <paramref name="delaySeconds"/>.</summary>
    public void After(double delaySeconds, SimEvent e) => _queue.Enqueue(e, (Now + (long)(delaySeconds * 1e6), _seq++));

    /// <summary>Takes the next event and moves the clock to it.</summary>
    public bool TryNext(out SimEvent e)
    {
        if (!_queue.TryDequeue(out e, out (long Time, long Seq) at))
        {
            return false;
        }

        Now = at.Time;
        Processed++;
        return true;
    }
}
