using System.Net;
using System.Net.NetworkInformation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Api.Tests;

/// <summary>How a host wires the server: <c>services.AddTincanControllerApi(...)</c>.</summary>
public sealed class ServiceRegistrationTests
{
    [Fact]
    public async Task Hosted_service_starts_the_server_with_the_registered_tincan_interfaces_and_routers()
    {
        string dir = Directory.CreateTempSubdirectory("ipop-api-di-").FullName;
        try
        {
            var tincan = new FakeTincan(1);
            var routers = new RecordingRouterFactory();
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton<ITincan>(tincan);
            services.AddSingleton<IVirtualInterfaceFactory>(new FakeInterfaceFactory());
            services.AddSingleton<IControllerRouterFactory>(routers);
            services.AddTincanControllerApi(o => o.SocketPath = Path.Combine(dir, "api.sock"));
            await using ServiceProvider provider = services.BuildServiceProvider(validateScopes: true);

            IHostedService hosted = Assert.Single(provider.GetServices<IHostedService>());
            Assert.Same(provider.GetRequiredService<ControllerApiServer>(), hosted);
            await hosted.StartAsync(CancellationToken.None);
            using (TestClient c = await TestClient.ConnectAsync(Path.Combine(dir, "api.sock")))
            {
                await c.OkAsync("interface.create", """{"mode":"tap"}""");
                Assert.Equal([VirtualInterfaceMode.Tap], routers.Modes);
                Assert.Same(routers.Created[0], tincan.Attached[0].Router);

                // The host's log records become log events through the registered provider.
                await c.OkAsync("events.subscribe", """{"kinds":["log"]}""");
                ILogger logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ipop.Tincan.Host");
                HostLog.Ready(logger);
                Assert.Equal("host ready", (await c.NextEventAsync("log")).GetProperty("data").GetProperty("message").GetString());
            }

            await hosted.StopAsync(CancellationToken.None);
            Assert.False(Internal.UnixSocketFile.Stat(Path.Combine(dir, "api.sock"), followSymlinks: false).Exists);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Registering_twice_gives_one_server_and_one_hosted_service()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ITincan>(new FakeTincan(1));
        services.AddTincanControllerApi(o => o.SocketPath = "/run/ipop/a.sock");
        services.AddTincanControllerApi(o => o.MaxClients = 3);
        await using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Single(provider.GetServices<IHostedService>());
        ControllerApiOptions options = provider.GetRequiredService<IOptions<ControllerApiOptions>>().Value;
        Assert.Equal(("/run/ipop/a.sock", 3), (options.SocketPath, options.MaxClients));
    }

    [Fact]
    public void Missing_socket_path_fails_when_the_server_is_resolved()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ITincan>(new FakeTincan(1));
        services.AddTincanControllerApi(_ => { });
        using ServiceProvider provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ControllerApiServer>());
        Assert.Contains("ControllerApi:SocketPath is required (an absolute path such as /run/ipop/tincan.sock).", e.Failures);
    }

    [Fact]
    public async Task Without_an_interface_factory_interface_operations_are_unsupported()
    {
        string dir = Directory.CreateTempSubdirectory("ipop-api-di-").FullName;
        try
        {
            var services = new ServiceCollection();
            services.AddSingleton<ITincan>(new FakeTincan(1));
            services.AddTincanControllerApi(o => o.SocketPath = Path.Combine(dir, "api.sock"));
            await using ServiceProvider provider = services.BuildServiceProvider();
            ControllerApiServer server = provider.GetRequiredService<ControllerApiServer>();
            await server.StartAsync(CancellationToken.None);
            using TestClient c = await TestClient.ConnectAsync(server.SocketPath);
            await c.FailAsync("interface.create", "{}", "unsupported");
            await c.OkAsync("link.query");
            await server.StopAsync(CancellationToken.None);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class RecordingRouterFactory : IControllerRouterFactory
    {
        public List<VirtualInterfaceMode> Modes { get; } = [];

        public List<IControllerRouter> Created { get; } = [];

        public IControllerRouter Create(VirtualInterfaceMode mode)
        {
            Modes.Add(mode);
            var router = new NullRouter();
            Created.Add(router);
            return router;
        }
    }

    private sealed class NullRouter : IControllerRouter
    {
        public RouteDecision RouteOutbound(Span<byte> packet) => RouteDecision.Drop;

        public bool AcceptInbound(ITincanLink from, Span<byte> packet) => false;

        public void SetRoute(IPNetwork prefix, ITincanLink link)
        {
        }

        public bool RemoveRoute(IPNetwork prefix) => false;

        public void SetMacRoute(PhysicalAddress mac, ITincanLink link)
        {
        }

        public bool RemoveMacRoute(PhysicalAddress mac) => false;

        public void RemoveRoutes(ITincanLink link)
        {
        }
    }
}

internal static partial class HostLog
{
    [LoggerMessage(1, LogLevel.Information, "host ready")]
    public static partial void Ready(ILogger logger);
}
