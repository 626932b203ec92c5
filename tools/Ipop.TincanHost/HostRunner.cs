using Ipop.Tap;
using Ipop.Tincan;
using Ipop.Tincan.Api;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.TincanHost;

internal static class HostRunner
{
    public static async Task<int> RunAsync(FileInfo configFile, CancellationToken cancellationToken)
    {
        if (!configFile.Exists)
        {
            await Console.Error.WriteLineAsync($"ipop-tincan: configuration file '{configFile.FullName}' does not exist.");
            return 2;
        }

        HostConfig config = new();
        try
        {
            new ConfigurationBuilder().AddJsonFile(configFile.FullName, optional: false).Build().Bind(config, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"ipop-tincan: {configFile.Name}: {e.Message}");
            return 2;
        }

        IReadOnlyList<string> errors = HostConfigValidator.Validate(config);
        if (errors.Count > 0)
        {
            foreach (string error in errors)
            {
                await Console.Error.WriteLineAsync($"ipop-tincan: {configFile.Name}: {error}");
            }

            return 2;
        }

        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.AddSystemd();
        builder.Services.AddSingleton(config);
        builder.Services.AddLinuxTunTap();
        builder.Services.AddTincan(o =>
        {
            new ConfigurationBuilder().AddJsonFile(configFile.FullName, optional: false).Build().GetSection("Tincan").Bind(o);
            o.Mtu = config.Interface?.Mtu ?? o.Mtu;
        });
        builder.Services.AddHostedService<TincanHostService>();
        if (config.Api is { } api)
        {
            // An external controller (another process, any language) drives this Tincan over the socket.
            builder.Services.AddTincanControllerApi(o => o.SocketPath = api.SocketPath);
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        using IHost host = builder.Build();
        try
        {
            await host.RunAsync(cancellationToken);
            return Environment.ExitCode;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException e)
        {
            foreach (string failure in e.Failures)
            {
                await Console.Error.WriteLineAsync($"ipop-tincan: {configFile.Name}: {failure}");
            }

            return 2;
        }
        catch (VirtualInterfaceException e)
        {
            await Console.Error.WriteLineAsync($"ipop-tincan: {e.Message}");
            return 3;
        }
    }
}
