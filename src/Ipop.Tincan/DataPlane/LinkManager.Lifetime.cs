namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Disposal (issue 15): idempotent, safe in any order with the caller's NIC (before or after it), before
/// <see cref="StartAsync"/>, twice, and from several threads at once; every call returns only when the node has let go
/// of everything. Calls after disposal throw an <see cref="ObjectDisposedException"/> that names <see cref="ITincan"/>,
/// the type the caller knows, instead of this internal one.
/// </summary>
/// <remarks>
/// <see cref="IDisposable"/> is implemented for containers: <c>Microsoft.Extensions.DependencyInjection</c>'s
/// synchronous <c>ServiceProvider.Dispose</c> refuses a singleton that is only <see cref="IAsyncDisposable"/>
/// (it throws, naming this type). The asynchronous path never needs the calling thread's context (every await is
/// <c>ConfigureAwait(false)</c>), so blocking on it is safe.
/// </remarks>
internal sealed partial class LinkManager : IDisposable
{
    /// <summary>How long disposal waits for a control step on another thread to finish the link closes.</summary>
    private static readonly TimeSpan DisposeControlWait = TimeSpan.FromSeconds(2);

    /// <summary>Completes when the first <see cref="DisposeAsync"/> has finished; later and concurrent calls wait for it.</summary>
    private readonly TaskCompletionSource _disposal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>1 once disposal began: read lock-free by every entry point, written once.</summary>
    private int _disposed;

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return new ValueTask(_disposal.Task);
        }

        return DisposeOnceAsync();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Throws the exception every call on a disposed node gets.</summary>
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ObjectDisposedException(
                nameof(ITincan),
                "This Tincan node (ITincan) was disposed; create a new one (TincanNode.Create, or a new service provider) to start again.");
        }
    }

    private async ValueTask DisposeOnceAsync()
    {
        try
        {
            // A start, attach or link creation inside the table lock now finishes before the teardown below, and
            // any later one sees the flag (they check it again under the lock).
            lock (_tableLock)
            {
            }

            await Deadlines.DisposeAsync().ConfigureAwait(false);
            StopRoaming();
            await StopInterfaceAsync().ConfigureAwait(false);
            foreach (TincanLink link in _snapshot)
            {
                link.Close(LinkFailureReason.Shutdown);
            }

            // The closes run on the control loop (now, unless a step runs on another thread): let them finish before
            // the socket goes. Not from a handler, which runs on the loop itself.
            long deadline = Environment.TickCount64 + (long)DisposeControlWait.TotalMilliseconds;
            while (!Control.IsIdle && !Control.IsRunningHere && Environment.TickCount64 < deadline)
            {
                await Task.Delay(10).ConfigureAwait(false);
            }

            if (Nat is { } nat)
            {
                await nat.DisposeAsync().ConfigureAwait(false);
            }

            Mux?.Dispose();
            _handshakeWorker.Dispose();
            Metrics.Dispose();
            StaticSecrets.Clear();
            Keys.Dispose();
        }
        finally
        {
            _disposal.TrySetResult();
        }
    }
}
