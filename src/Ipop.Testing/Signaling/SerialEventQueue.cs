using System.Threading.Channels;

namespace Ipop.Testing;

/// <summary>
/// Raises one node's events one at a time, in order, on a background task (as <c>IOverlaySignaling</c> promises),
/// and tells when everything queued so far has been raised.
/// </summary>
internal sealed class SerialEventQueue : IAsyncDisposable
{
    private readonly Channel<Action> _channel = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;

    public SerialEventQueue() => _pump = Task.Run(PumpAsync);

    public void Post(Action raise) => _channel.Writer.TryWrite(raise);

    /// <summary>Completes once every event posted before the call has been raised and its handlers returned.</summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_channel.Writer.TryWrite(() => done.TrySetResult()))
        {
            done.TrySetResult(); // disposed: nothing will be raised any more
        }

        return done.Task;
    }

    private async Task PumpAsync()
    {
        await foreach (Action raise in _channel.Reader.ReadAllAsync())
        {
            try
            {
                raise();
            }
#pragma warning disable CA1031 // A faulty subscriber must not stop event delivery to the others.
            catch (Exception)
#pragma warning restore CA1031
            {
                // As with XmppSignaling: the handler's own problem; the other subscribers still get their events.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _pump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
