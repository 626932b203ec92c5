using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Ipop.Samples.Hosting;

/// <summary>
/// The command line and start-up of a sample host: <c>run --config file.json</c> and the
/// CLI commands of docs/cli.md (<c>status</c>, <c>peers</c>, <c>ping</c>, <c>why</c>, <c>netcheck</c>). Configuration errors are printed one per line, each naming its
/// key, and the process exits 2; a node that cannot run (no TUN, XMPP refused) exits 3.
/// </summary>
public static partial class SampleHost
{
    /// <summary>Runs the program.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="product">Program name for messages (e.g. <c>groupvpn</c>).</param>
    /// <param name="sections">Top-level config sections the product understands (others are errors).</param>
    /// <param name="configure">Registers the product's services from the configuration on the builder of <c>AddIpop()</c>, whose
    /// hosted service starts Tincan, runs the controller and stops them in order.</param>
    /// <param name="status">Builds the status report from the running services.</param>
    /// <param name="commands">Further commands of the product (e.g. <c>groupvpn members</c>).</param>
    public static async Task<int> RunAsync(string[] args, string product, IReadOnlyCollection<string> sections, Action<IIpopBuilder, IConfiguration> configure, Func<IServiceProvider, StatusReport> status, IEnumerable<Command>? commands = null)
    {
        // Signals are ours from here on: a SIGTERM while the config is read or the host is built is a clean stop too.
        using var shutdown = new ShutdownSignal();
        var configOption = new Option<FileInfo>("--config") { Description = "Path of the JSON configuration.", Required = true };
        var run = new Command("run", "Run the node until SIGTERM/SIGINT (creates and removes its virtual interface).") { configOption };
        run.SetAction((parse, _) => RunNodeAsync(parse.GetValue(configOption)!, product, sections, configure, status, shutdown.Token));
        var root = new RootCommand($"Ipop {product} node.") { run };
        foreach (Command command in Cli.CliCommands.Create(product, shutdown.Token))
        {
            root.Add(command);
        }

        foreach (Command command in commands ?? [])
        {
            root.Add(command);
        }

        return await Cli.CliCommands.InvokeAsync(root, args, product);
    }

    /// <summary>Default status socket path of a product.</summary>
    public static string DefaultStatusSocket(string product) => Cli.CliCommands.DefaultSocket(product);

    private static async Task<int> RunNodeAsync(FileInfo file, string product, IReadOnlyCollection<string> sections, Action<IIpopBuilder, IConfiguration> configure, Func<IServiceProvider, StatusReport> status, CancellationToken ct)
    {
        if (!TryLoad(file, product, [.. sections, "Metrics"], out IConfigurationRoot? config))
        {
            return 2;
        }

        var shapeErrors = new List<string>();
        StrictConfiguration.Check(config.GetSection("Status"), ConfigSchema.Of<StatusSection>(), shapeErrors);
        StrictConfiguration.Check(config.GetSection("Metrics"), ConfigSchema.Of<MetricsSection>(), shapeErrors);
        foreach (string error in shapeErrors)
        {
            await Console.Error.WriteLineAsync($"{product}: {file.Name}: {error}");
        }

        if (shapeErrors.Count > 0)
        {
            return 2;
        }

        string? metrics = config["Metrics:PrometheusListen"];
        IPEndPoint? metricsAt = null;
        if (!string.IsNullOrWhiteSpace(metrics) && (!IPEndPoint.TryParse(metrics, out metricsAt) || metricsAt.Port == 0))
        {
            await Console.Error.WriteLineAsync($"{product}: {file.Name}: Metrics:PrometheusListen must be an address and port such as 127.0.0.1:9464, got '{metrics}'.");
            return 2;
        }

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddConfiguration(config);
        builder.Logging.AddConfiguration(config.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });

        // The host logs a failed start with the whole stack trace; the one line printed below says what matters.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.AddSdNotify();
        // Under the 2 s a service manager is promised; the kernel removes the device when the process exits.
        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = TimeSpan.FromSeconds(1.5);

            // The services report their own failures (one line, exit code) and stop the host. A SIGTERM during start can
            // cancel a service's task before it runs, which the default (StopHost) reports as a crash with a stack trace.
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore;
        });
        configure(builder.Services.AddIpop(), config);
        if (metricsAt is not null)
        {
            // Counters of the Ipop.Tincan meter (links, bytes, packets, handshakes, drops by reason) as a Prometheus
            // scrape endpoint; off unless configured, and it serves only that address.
            IPEndPoint listen = metricsAt;
            builder.Services.AddOpenTelemetry().WithMetrics(m => m
                .AddMeter(Ipop.Tincan.TincanMeter.Name)
                .AddPrometheusHttpListener(o =>
                {
                    o.Host = listen.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();
                    o.Port = listen.Port;
                }));
        }

        string socket = config["Status:SocketPath"] ?? DefaultStatusSocket(product);
        builder.Services.AddHostedService(sp => new StatusSocketServer(
            socket,
            () => status(sp),
            sp.GetService<ITincan>(),
            sp.GetService<IOptions<Ipop.Tincan.TincanOptions>>()?.Value,
            sp.GetRequiredService<ILogger<StatusSocketServer>>()));

        try
        {
            using IHost host = builder.Build();
            if (metricsAt is not null)
            {
                LogMetrics(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Ipop.Samples.Hosting"), $"http://{metricsAt}/metrics");
            }

            await host.RunAsync(ct);
            return Environment.ExitCode;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped while starting: nothing failed.
            return 0;
        }
        catch (HttpListenerException e)
        {
            await Console.Error.WriteLineAsync($"{product}: {file.Name}: Metrics:PrometheusListen {metricsAt}: cannot listen there ({e.Message}).");
            return 2;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            foreach (string line in StartFailure.Lines(e, file.Name))
            {
                await Console.Error.WriteLineAsync($"{product}: {line}");
            }

            return StartFailure.ExitCode(e);
        }
    }

    private static bool TryLoad(FileInfo file, string product, IReadOnlyCollection<string> sections, out IConfigurationRoot config)
    {
        config = new ConfigurationBuilder().Build();
        if (StrictConfiguration.TryLoad(file, out string? error) is not { } loaded)
        {
            Console.Error.WriteLine($"{product}: {error}");
            return false;
        }

        config = loaded;
        var unknown = config.GetChildren().Select(c => c.Key).Where(k => !sections.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
        foreach (string key in unknown)
        {
            Console.Error.WriteLine($"{product}: {file.Name}: {key} is not a known key; the file takes {string.Join(", ", sections)}.");
        }

        return unknown.Count == 0;
    }

    /// <summary>The keys of the <c>Status</c> section (checked, read by key).</summary>
    private sealed class StatusSection
    {
        public string? SocketPath { get; set; }
    }

    /// <summary>The keys of the <c>Metrics</c> section (checked, read by key).</summary>
    private sealed class MetricsSection
    {
        public string? PrometheusListen { get; set; }
    }

    [LoggerMessage(1, LogLevel.Information, "Prometheus metrics (meter Ipop.Tincan) at {Url}")]
    private static partial void LogMetrics(ILogger logger, string url);
}
