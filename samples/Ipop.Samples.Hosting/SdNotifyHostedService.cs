using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.Samples.Hosting;

/// <summary>
/// Tells the service manager (<see cref="SdNotify"/>) that the host is ready once every hosted service has started,
/// and that it is stopping as soon as the stop begins (so <c>systemctl stop</c> shows "deactivating" at once). A
/// notify socket that refuses is logged, never fatal: the node keeps serving, and a <c>Type=notify</c> unit then
/// fails on its start timeout, which names the cause better than a crash would.
/// </summary>
internal sealed partial class SdNotifyHostedService(string notifySocket, IHostApplicationLifetime lifetime, ILogger<SdNotifyHostedService> logger) : IHostedService
{
    private CancellationTokenRegistration _started;
    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = lifetime.ApplicationStarted.Register(() => Notify("READY=1"));
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
