using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.Samples.Hosting;

/// <summary>
/// Tells the service manager (<see cref="SdNotify"/>) <c>READY=1</c> once the host is ready (<see cref="ServiceReadiness"/>)
/// and <c>STOPPING=1</c> as soon as a stop begins, so <c>systemctl stop</c> shows "deactivating" at once. A stop that
/// comes first means READY=1 is never sent. A notify socket that refuses is logged, never fatal: the node keeps
/// serving, and a <c>Type=notify</c> unit then fails on its start timeout, which names the cause better than a crash.
/// </summary>
internal sealed partial class SdNotifyHostedService(string notifySocket, bool hostMarksReady, ServiceReadiness readiness, IHostApplicationLifetime lifetime, ILogger<SdNotifyHostedService> logger) : IHostedService
{
    private CancellationTokenRegistration _started;
    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!hostMarksReady)
        {
            _started = lifetime.ApplicationStarted.Register(readiness.MarkReady);
        }

        _ = readiness.WhenReady.ContinueWith(
            _ =>
            {
                if (!lifetime.ApplicationStopping.IsCancellationRequested)
                {
                    Notify("READY=1");
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        _stopping = lifetime.ApplicationStopping.Register(() => Notify("STOPPING=1"));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started.Dispose();
        _stopping.Dispose();
        return Task.CompletedTask;
    }

    private void Notify(string state)
    {
        try
        {
            SdNotify.Send(notifySocket, state);
            LogNotified(logger, state, notifySocket);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            LogNotifyFailed(logger, state, notifySocket, e.Message);
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "told the service manager {State} at {Socket}")]
    private static partial void LogNotified(ILogger logger, string state, string socket);

    [LoggerMessage(2, LogLevel.Warning, "cannot tell the service manager {State} at NOTIFY_SOCKET {Socket}: {Reason}")]
    private static partial void LogNotifyFailed(ILogger logger, string state, string socket, string reason);
}
