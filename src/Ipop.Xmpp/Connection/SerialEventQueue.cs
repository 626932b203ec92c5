using System.Threading.Channels;

namespace Ipop.Xmpp.Connection;

/// <summary>
/// Raises events one at a time, in order, on one background task (the <see cref="IOverlaySignaling"/>
/// contract). State changes enqueue under the owner's lock, so order follows state; handlers run
/// outside every lock and may call back into the signaling API.
/// </summary>
internal sealed class SerialEventQueue : IAsyncDisposable
{
    private readonly Channel<Action> _channel = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private readonly Action<Exception> _onHandlerError;

    public SerialEventQueue(Action<Exception> onHandlerError)
    {
        _onHandlerError = onHandlerError;
        _pump = Task.Run(PumpAsync);
    }

    public void Post(Action raise) => _channel.Writer.TryWrite(raise);

    private async Task PumpAsync()
    {
        await foreach (Action raise in _channel.Reader.ReadAllAsync())
        {
            try
            {
                raise();
            }
#pragma warning disable CA1031 // A faulty subscriber must not stop event delivery to the others.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _onHandlerError(ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _pump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
