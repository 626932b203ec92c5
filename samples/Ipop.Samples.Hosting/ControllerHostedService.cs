using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ipop.Samples.Hosting;

/// <summary>Starts Tincan and runs the controller until the host stops; a fatal error stops the host with a clear log line and exit code 3.</summary>
public sealed partial class ControllerHostedService(ITincan tincan, IController controller, IHostApplicationLifetime lifetime, ILogger<ControllerHostedService> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await tincan.StartAsync(stoppingToken);
            await controller.RunAsync(stoppingToken);
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

            Environment.ExitCode = 2;
            lifetime.StopApplication();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogFatal(logger, StartFailure.OneLine(e));
            LogDetail(logger, e);
            Environment.ExitCode = StartFailure.ExitCode(e);
            lifetime.StopApplication();
        }
        finally
        {
            await tincan.DisposeAsync();
        }
    }

    [LoggerMessage(1, LogLevel.Critical, "cannot run: {Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(3, LogLevel.Information, "stopped while starting: {Reason}")]
    private static partial void LogStoppedWhileStarting(ILogger logger, string reason);

    [LoggerMessage(2, LogLevel.Debug, "failure detail")]
    private static partial void LogDetail(ILogger logger, Exception exception);
}
