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
    /// <summary>
    /// A backstop under the 2 s a service manager is promised: a stop still running this long after the signal (a
    /// dependency that hangs while it disposes) ends the process with its exit code so far, and the kernel removes
    /// the device with the process. The stop itself is bounded well below this; the lab tests fail if it ever fires.
    /// </summary>
    public static readonly TimeSpan ForceExitAfter = TimeSpan.FromSeconds(1.8);

    /// <summary>What the backstop prints when it fires.</summary>
    public const string ForcedExitMessage = "still stopping 1.8 s after the signal; exiting now";

    private readonly CancellationTokenSource _stop = new();
    private Timer? _backstop;
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
        Interlocked.Exchange(ref _backstop, null)?.Dispose();
        _term.Dispose();
        _interrupt.Dispose();
        _stop.Dispose();
    }

    private static void ForceExit()
    {
        Console.Error.WriteLine(ForcedExitMessage);
        Environment.Exit(Environment.ExitCode);
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Handled: the program winds down through the token and returns its own exit code.
        context.Cancel = true;
        var backstop = new Timer(static _ => ForceExit(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (Interlocked.CompareExchange(ref _backstop, backstop, null) is null)
        {
            backstop.Change(ForceExitAfter, Timeout.InfiniteTimeSpan);
        }
        else
        {
            backstop.Dispose();
        }

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
