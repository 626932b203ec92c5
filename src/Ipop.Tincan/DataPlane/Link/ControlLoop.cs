using System.Collections.Concurrent;

namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// The one serialized control loop of a node's links: timers, connectivity checks, handshakes, TURN continuations
/// and controller calls all run here, one step at a time and in the order posted, so link control state needs no
/// lock. Packet threads only post (and read the snapshots the steps publish).
/// </summary>
/// <remarks>
/// No thread of its own: whoever posts when the loop is idle runs it until the queue is empty (so a timer tick on a
/// fake clock is processed before <c>Advance</c> returns); whoever posts while it runs only enqueues. Nothing is held
/// while a step runs that another thread could wait for, and after each step the owner's hook raises the
/// events the step queued, so an event handler may post (call any <c>ITincan</c> method); its work runs next.
/// </remarks>
internal sealed class ControlLoop
{
    /// <summary>Handshake messages from the receive thread that may wait at once; more are dropped (a flood).</summary>
    public const int HandshakeCapacity = 256;

    private readonly ConcurrentQueue<Action> _steps = new();
    private readonly Action _afterEachStep;
    private readonly Action<Exception> _onError;
    private readonly Action? _onDrained;
    private int _running;
    private int _runner;
    private int _handshakes;

    /// <param name="afterEachStep">Runs after every step (raises the events it queued).</param>
    /// <param name="onError">A step threw.</param>
    /// <param name="onDrained">
    /// Runs on the loop when every step posted so far has run: the node arms its timer for the earliest deadline then,
    /// once per burst of steps rather than once per step.
    /// </param>
    public ControlLoop(Action afterEachStep, Action<Exception> onError, Action? onDrained = null)
    {
        _afterEachStep = afterEachStep;
        _onError = onError;
        _onDrained = onDrained;
    }

    /// <summary>True on the thread that runs the loop right now (an event handler, or a step).</summary>
    public bool IsRunningHere => Volatile.Read(ref _runner) == Environment.CurrentManagedThreadId;

    /// <summary>True when no step waits and none runs.</summary>
    public bool IsIdle => Volatile.Read(ref _running) == 0 && _steps.IsEmpty;

    /// <summary>Handshake messages waiting now.</summary>
    public int HandshakesWaiting => Volatile.Read(ref _handshakes);

    /// <summary>Runs <paramref name="step"/> after the steps already posted: now on this thread if the loop is idle.</summary>
    public void Post(Action step)
    {
        _steps.Enqueue(step);
        Run();
    }

    /// <summary>
    /// Posts <paramref name="step"/> and waits (at most <paramref name="bound"/>) until it has run and the events it
    /// queued were raised, so a controller call behaves synchronously. On the loop's own thread (an event handler)
    /// it only posts: the step runs after the handler returns, and waiting there could never end.
    /// </summary>
    public void PostAndWait(Action step, TimeSpan bound)
    {
        if (IsRunningHere)
        {
            Post(step);
            return;
        }

        using var done = new ManualResetEventSlim();
        Post(step);

        // A step of its own, so the events of `step` are raised (after it) before this one runs.
        Post(done.Set);
        done.Wait(bound);
    }

    /// <summary>Posts a handshake message's step unless <see cref="HandshakeCapacity"/> already wait.</summary>
    /// <returns><c>false</c> if dropped (the caller counts it).</returns>
    public bool TryPostHandshake(Action step)
    {
        if (Interlocked.Increment(ref _handshakes) > HandshakeCapacity)
        {
            Interlocked.Decrement(ref _handshakes);
            return false;
        }

        Post(() =>
        {
            Interlocked.Decrement(ref _handshakes);
            step();
        });
        return true;
    }

    private void Drained()
    {
        if (_onDrained is null)
        {
            return;
        }

        try
        {
            _onDrained();
        }
#pragma warning disable CA1031 // Like a step: a bug there must not stop the loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _onError(e);
        }
    }

    private void Run()
    {
        // Re-checks after letting go: a step posted between the last dequeue and the release is run by this thread.
        while (!_steps.IsEmpty && Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            Volatile.Write(ref _runner, Environment.CurrentManagedThreadId);
            try
            {
                while (_steps.TryDequeue(out Action? step))
                {
                    try
                    {
                        step();
                    }
#pragma warning disable CA1031 // A bug in one step must not stop the loop for every link.
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        _onError(e);
                    }

                    _afterEachStep();
                }

                Drained();
            }
            finally
            {
                Volatile.Write(ref _runner, 0);
                Volatile.Write(ref _running, 0);
            }
        }
    }
}
