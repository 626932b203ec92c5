namespace Ipop.Hosting.Tests;

/// <summary>
/// A controller that runs until cancelled and then cleans up asynchronously (as a real one removes its links and
/// detaches its interface), recording each step; <see cref="OnRun"/> replaces the body to fail.
/// </summary>
internal sealed class FakeController(EventLog log) : IController
{
    public Func<CancellationToken, Task>? OnRun { get; set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        log.Add("controller run");
        if (OnRun is { } run)
        {
            await run(cancellationToken);
            return;
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            log.Add("controller cancelled");
        }

        // A real controller awaits the removal of its links and the detach of its NIC here: Tincan must still be alive.
        await Task.Delay(50, CancellationToken.None);
        log.Add("controller cleaned up");
    }
}
