using Ipop.Samples.Hosting;
using Ipop.Tap;
using Ipop.Tincan;
using Ipop.Tincan.Api;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.TincanHost;

/// <summary>
/// <c>ipop-tincan run</c>: loads and checks the config, then runs the host. Every failure to start is one line on
/// stderr: exit 2 for the config or the key file (the user must change something), 3 for a runtime failure (no TUN,
/// UDP port taken, API socket unusable). A SIGTERM at any moment is a clean stop: exit 0.
/// </summary>
internal static class HostRunner
{
    /// <summary>
    /// Under the 2 s a service manager is promised: stopping waits this long for the services (the NIC detach is
    /// bounded by <see cref="TincanHostService"/> itself), then the process exits and the kernel removes the device.
    /// </summary>
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// Starts the host; when a service fails to start (the controller API socket, say), stops the ones that had
    /// started before rethrowing. The generic host would only dispose them, and disposing Tincan while
    /// <see cref="TincanHostService"/> still attaches its NIC races it; stopping first lets it detach and close the NIC.
    /// </summary>
    private static async Task StartOrStopStartedAsync(IHost host, CancellationToken stop)
    {
        try
        {
            await host.StartAsync(stop);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            using var bound = new CancellationTokenSource(ShutdownTimeout);
            try
            {
                await host.StopAsync(bound.Token);
            }
            catch (Exception stopFailure) when (stopFailure is not OutOfMemoryException)
            {
                // Nothing had started (options are validated before any service starts, and the host then has no
                // services to stop: it throws). The start failure is what the user must see.
            }

            throw;
        }
    }

    public static async Task<int> RunAsync(FileInfo configFile, CancellationToken stop)
    {
        IConfigurationRoot? json = StrictConfiguration.TryLoad(configFile, out string? loadError);
        if (json is null)
        {
            await Console.Error.WriteLineAsync($"ipop-tincan: {loadError}");
            return 2;
        }

        var errors = new List<string>();
        StrictConfiguration.CheckRoot(json, HostConfigSchema.Value, errors);
        HostConfigValidator.ExplainRenamedKeys(json, errors);
        HostConfig config = new();
        if (errors.Count == 0)
        {
            json.Bind(config);
            errors.AddRange(HostConfigValidator.Validate(config));
        }

        if (errors.Count > 0)
        {
            foreach (string error in errors)
            {
                await Console.Error.WriteLineAsync($"ipop-tincan: {configFile.Name}: {error}");
            }

            return 2;
        }

        if (stop.IsCancellationRequested)
        {
            return 0;
        }

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });

        // The host logs a failed start with the whole stack trace; the one line printed below says what matters.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.AddSdNotify(hostMarksReady: true);
        builder.Services.AddSingleton(config);
        builder.Services.AddLinuxTunTap();
        builder.Services.AddTincan(o =>
        {
            json.GetSection("Tincan").Bind(o);
            o.Mtu = config.Interface?.Mtu ?? o.Mtu;
        });
        builder.Services.AddHostedService<TincanHostService>();
        builder.Services.AddHostedService(sp =>
        {
            ITincan tincan = sp.GetRequiredService<ITincan>();
            return new StatusSocketServer(
                config.Status.SocketPath,
                () => TincanStatus.Build(config, tincan),
                tincan,
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Ipop.Tincan.TincanOptions>>().Value,
                sp.GetRequiredService<ILogger<StatusSocketServer>>());
        });
        if (config.ControllerApi is not null)
        {
            // An external controller (another process, any language) drives this Tincan over the socket. The server
            // starts after TincanHostService, which says "ready" only once it has (docs/tincan-host.md).
            builder.Services.AddTincanControllerApi(o => json.GetSection("ControllerApi").Bind(o));
        }

        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = ShutdownTimeout;

            // The services report their own failures (one line, exit code) and stop the host. A SIGTERM during start can
            // cancel a service's task before it runs, which the default (StopHost) reports as a crash with a stack trace.
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore;
        });
        try
        {
            IHost host = builder.Build();
            try
            {
                await StartOrStopStartedAsync(host, stop);
                await host.WaitForShutdownAsync(stop);
            }
            finally
            {
                // As IHost.RunAsync does: asynchronously, since Tincan's services dispose asynchronously.
                if (host is IAsyncDisposable asyncHost)
                {
                    await asyncHost.DisposeAsync();
                }
                else
                {
                    host.Dispose();
                }
            }

            return Environment.ExitCode;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while starting: nothing failed.
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Config and key problems exit 2; the rest is the machine's state (no TUN, port taken): 3. No stack trace.
            foreach (string line in StartFailure.Lines(e, configFile.Name))
            {
                await Console.Error.WriteLineAsync($"ipop-tincan: {line}");
            }

            return StartFailure.ExitCode(e);
        }
    }
}
