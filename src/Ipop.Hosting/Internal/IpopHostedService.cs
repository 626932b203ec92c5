using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ipop.Hosting.Internal;

/// <summary>
/// Starts Tincan, runs the controller until the host stops, then stops them in order: the controller's token is
/// cancelled and its <see cref="IController.RunAsync"/> awaited first (it removes its links and detaches and disposes
/// its interface while Tincan still runs), then Tincan is disposed. A fatal error stops the host with one clear log line
/// and <see cref="Environment.ExitCode"/> 2 (configuration) or 3 (the machine or the network refused). Without a
/// registered controller it only runs Tincan (an external controller drives it through the controller API).
/// </summary>
internal sealed partial class IpopHostedService(ITincan tincan, IpopNode node, IHostApplicationLifetime lifetime, ILogger<IpopHostedService> logger, IController? controller = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await tincan.StartAsync(stoppingToken);
            // No controller in this process: one drives Tincan from outside (AddControllerApi), Tincan runs until stop.
            Task run = controller?.RunAsync(stoppingToken) ?? Task.Delay(Timeout.Infinite, stoppingToken);
            if (!run.IsFaulted)
            {
                node.MarkReady();
            }

            await run;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested && e is not OutOfMemoryException)
        {
            // Stopping cut a start short (the XMPP client reports a login it was told to abandon as a timeout): the
            // service manager asked for this stop, so it is not a failure and the exit code stays 0.
            LogStoppedWhileStarting(logger, StartFailure.OneLine(e));
        }
        catch (OptionsValidationException e)
        {
            foreach (string failure in e.Failures)
            {
                LogFatal(logger, failure);
            }

            Fail(e, 2);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogFatal(logger, StartFailure.OneLine(e));
            LogDetail(logger, e);
            Fail(e, StartFailure.ExitCode(e));
        }
        finally
        {
            // A stop before the node was ready: waiters see a cancellation, not a hang. After a failure or once ready
            // this does nothing.
            node.MarkStopped();
            await tincan.DisposeAsync();
        }
    }

    private void Fail(Exception e, int exitCode)
    {
        node.MarkFailed(e);
        Environment.ExitCode = exitCode;
        lifetime.StopApplication();
    }

    [LoggerMessage(1, LogLevel.Critical, "cannot run: {Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(2, LogLevel.Debug, "failure detail")]
    private static partial void LogDetail(ILogger logger, Exception exception);

    [LoggerMessage(3, LogLevel.Information, "stopped while starting: {Reason}")]
    private static partial void LogStoppedWhileStarting(ILogger logger, string reason);
}
