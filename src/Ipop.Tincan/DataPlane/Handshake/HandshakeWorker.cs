namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// The thread that drains a node's <see cref="HandshakeQueue"/>: started on the first handshake message, then blocked
/// (no wakeups) until the next one arrives, until the node is disposed.
/// </summary>
/// <remarks>
/// A thread of its own rather than the thread pool because the pool belongs to the application that embeds the node:
/// an application that blocks its pool threads (or a test run that does) held every handshake, rekeys included, for
/// as long as the pool took to grow, and a rekey that waits long enough lets the session expire. wireguard-go gives its
/// handshake work its own goroutines for the same reason.
/// </remarks>
internal sealed class HandshakeWorker : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private Thread? _thread;
    private HandshakeQueue? _queue;
    private bool _disposed;

    /// <summary>Runs <see cref="HandshakeQueue.Drain"/> of <paramref name="queue"/> on the worker thread (the queue's schedule).</summary>
    public void Schedule(HandshakeQueue queue)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                // The node is gone: its queue is never drained again, which is what disposal means.
                return;
            }

            _queue = queue;
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "ipop-tincan-hs" };
                _thread.Start();
            }

            // Inside the lock: the thread disposes the semaphore under it once disposal is seen.
            _signal.Release();
        }
    }

    /// <summary>Stops the thread after the drain in progress, if any; later messages are not handled.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_thread is null)
            {
                _signal.Dispose();
                return;
            }

            _signal.Release();
        }
    }

    private void Run()
    {
        while (true)
        {
            // One release per scheduled drain: the queue schedules again only after a drain has found it empty.
            _signal.Wait();
            HandshakeQueue? queue;
            lock (_lock)
            {
                if (_disposed)
                {
                    _signal.Dispose();
                    return;
                }

                queue = _queue;
            }

            queue?.Drain();
        }
    }
}
