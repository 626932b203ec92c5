using System.Runtime.InteropServices;

namespace Ipop.Samples.Hosting;

/// <summary>
/// SIGTERM and SIGINT turned into a cancellation token from the first line of <c>Main</c>: a service manager may stop
/// the node while it is still reading its config or building the host, before the host's own console lifetime
/// listens, and must still see a clean exit 0 rather than the runtime's default (death by signal, exit 143).
/// Shared by <c>ipop-tincan</c> (linked source) and the sample hosts.
/// </summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _interrupt;

    public ShutdownSignal()
    {
        Token = _stop.Token;
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    /// <summary>Cancelled by the first SIGTERM or SIGINT.</summary>
    public CancellationToken Token { get; }

    public void Dispose()
    {
        _term.Dispose();
        _interrupt.Dispose();
        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Handled: the program winds down through the token and returns its own exit code.
        context.Cancel = true;
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // A signal while Main is returning: nothing is left to stop.
        }
    }
}
