using Ipop.Xmpp.Connection;

namespace Ipop.Xmpp;

/// <summary>
/// Disposal (issue 15): idempotent, and every call (a second one, or one racing the first) returns only once the
/// session is closed. <see cref="IDisposable"/> is there for containers: <c>Microsoft.Extensions.DependencyInjection</c>'s
/// synchronous <c>ServiceProvider.Dispose</c> throws for a singleton that is only <see cref="IAsyncDisposable"/>.
/// </summary>
public sealed partial class XmppSignaling : IDisposable
{
    /// <summary>Completes when the first <see cref="DisposeAsync"/> has finished; later and concurrent calls wait for it.</summary>
    private readonly TaskCompletionSource _disposal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return new ValueTask(_disposal.Task);
        }

        return DisposeOnceAsync();
    }

    /// <summary>
    /// Closes the session as <see cref="DisposeAsync"/> does and blocks until it is closed (at most about 11 s when the
    /// server does not answer). Prefer <see cref="DisposeAsync"/>; this is for synchronous owners such as a
    /// <c>ServiceProvider</c> in a <c>using</c> statement.
    /// </summary>
    public void Dispose() =>
        // On the thread pool: the asynchronous path awaits without ConfigureAwait(false), so blocking a thread that has
        // a synchronization context on it directly could deadlock.
        Task.Run(() => DisposeAsync().AsTask()).GetAwaiter().GetResult();

    private async ValueTask DisposeOnceAsync()
    {
        try
        {
            await _lifetime.CancelAsync();
            XmppConnection? connection;
            Task? supervisor;
            lock (_gate)
            {
                connection = _connection;
                supervisor = _supervisor;
            }

            if (connection is not null)
            {
                // RFC 6120 §4.4: close our stream, then let the server close its own (the read loop ends
                // on its closing tag) before the TCP connection goes; dropping TCP right after our tag
                // makes the server see a reset instead of an orderly close (ejabberd logs
                // "Stream reset by peer"). A server that does not answer gets StreamCloseWait.
                await connection.EndStreamAsync();
                if (supervisor is not null)
                {
                    await supervisor.WaitAsync(StreamCloseWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                await connection.DisposeAsync();
            }

            if (supervisor is not null)
            {
                await supervisor.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await _events.DisposeAsync();
            _lifetime.Dispose();
        }
        finally
        {
            _disposal.TrySetResult();
        }
    }
}
