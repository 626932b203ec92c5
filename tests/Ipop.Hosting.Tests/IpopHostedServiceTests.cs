using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Ipop.Hosting.Tests;

/// <summary>
/// The hosted service in a real generic host with fakes. One class, so the tests that read or set the process-wide
/// <see cref="Environment.ExitCode"/> never run at the same time.
/// </summary>
public sealed class IpopHostedServiceTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly EventLog _log = new();
    private readonly FakeTincan _tincan;
    private readonly FakeController _controller;

    public IpopHostedServiceTests()
    {
        Environment.ExitCode = 0;
        _tincan = new FakeTincan(_log);
        _controller = new FakeController(_log);
    }

    public void Dispose() => Environment.ExitCode = 0;

    [Fact]
    public async Task Ready_after_Tincan_started_and_the_controller_runs_then_stop_awaits_the_controller_before_disposing_Tincan()
    {
        using IHost host = Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.Services.GetRequiredService<IIpopNode>().WaitUntilReadyAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.Equal(["tincan start", "tincan started", "controller run"], _log.Snapshot());
        Assert.Same(_tincan, host.Services.GetRequiredService<IIpopNode>().Tincan);

        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["tincan start", "tincan started", "controller run", "controller cancelled", "controller cleaned up", "tincan disposed"], _log.Snapshot());
        Assert.Equal(0, Environment.ExitCode);
    }

    [Fact]
    public async Task A_controller_that_fails_at_once_faults_readiness_sets_exit_code_3_and_stops_the_host()
    {
        var failure = new InvalidOperationException("no TUN device: /dev/net/tun is missing");
        _controller.OnRun = _ => throw failure;
        using IHost host = Build();
        await host.StartAsync(TestContext.Current.CancellationToken);

        InvalidOperationException seen = await Assert.ThrowsAsync<InvalidOperationException>(() => WaitReady(host));
        await host.WaitForShutdownAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);

        Assert.Same(failure, seen);
        Assert.Equal(3, Environment.ExitCode);
        Assert.Equal(["tincan start", "tincan started", "controller run", "tincan disposed"], _log.Snapshot());
    }

    [Fact]
    public async Task A_controller_that_fails_after_ready_sets_exit_code_3_and_stops_the_host()
    {
        var failing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _controller.OnRun = _ => failing.Task;
        using IHost host = Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        await WaitReady(host);

        failing.SetException(new InvalidOperationException("XMPP server refused the login"));
        await host.WaitForShutdownAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);

        Assert.Equal(3, Environment.ExitCode);
        Assert.Equal("tincan disposed", _log.Snapshot()[^1]);
    }

    [Fact]
    public async Task A_configuration_error_in_Tincan_start_sets_exit_code_2_and_the_controller_never_runs()
    {
        _tincan.OnStart = static _ => throw new OptionsValidationException("Tincan", typeof(object), ["Tincan:Mtu must be between 576 and 9000, got 1."]);
        using IHost host = Build();
        await host.StartAsync(TestContext.Current.CancellationToken);

        OptionsValidationException seen = await Assert.ThrowsAsync<OptionsValidationException>(() => WaitReady(host));
        await host.WaitForShutdownAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);

        Assert.Contains("Tincan:Mtu", seen.Failures.Single(), StringComparison.Ordinal);
        Assert.Equal(2, Environment.ExitCode);
        Assert.Equal(["tincan start", "tincan disposed"], _log.Snapshot());
    }

    [Fact]
    public async Task A_stop_while_Tincan_starts_cancels_readiness_keeps_exit_code_0_and_still_disposes_Tincan()
    {
        var starting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _tincan.OnStart = async ct =>
        {
            starting.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        };
        using IHost host = Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        await starting.Task.WaitAsync(Patience, TestContext.Current.CancellationToken);
        Task ready = WaitReady(host);

        await host.StopAsync(TestContext.Current.CancellationToken);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ready);
        Assert.Equal(0, Environment.ExitCode);
        Assert.Equal(["tincan start", "tincan disposed"], _log.Snapshot());
    }

    [Fact]
    public async Task A_waiter_that_gives_up_does_not_stop_the_node()
    {
        using IHost host = Build();
        using var giveUp = new CancellationTokenSource();
        var starting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _tincan.OnStart = ct =>
        {
            starting.SetResult();
            return Task.Delay(Timeout.Infinite, ct);
        };

        // ExecuteAsync runs on the thread pool (.NET 10): the start is under way only once Tincan says so.
        await host.StartAsync(TestContext.Current.CancellationToken);
        await starting.Task.WaitAsync(Patience, TestContext.Current.CancellationToken);
        Task wait = host.Services.GetRequiredService<IIpopNode>().WaitUntilReadyAsync(giveUp.Token);

        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal(["tincan start"], _log.Snapshot());
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Without_a_controller_Tincan_runs_until_the_host_stops()
    {
        using IHost host = Build(withController: false);
        await host.StartAsync(TestContext.Current.CancellationToken);
        await WaitReady(host);
        Assert.Equal(["tincan start", "tincan started"], _log.Snapshot());

        await host.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["tincan start", "tincan started", "tincan disposed"], _log.Snapshot());
        Assert.Equal(0, Environment.ExitCode);
    }

    private static Task WaitReady(IHost host) =>
        host.Services.GetRequiredService<IIpopNode>().WaitUntilReadyAsync(CancellationToken.None).WaitAsync(Patience, TestContext.Current.CancellationToken);

    private IHost Build(bool withController = true)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<ITincan>(_tincan);
        if (withController)
        {
            builder.Services.AddSingleton<IController>(_controller);
        }

        builder.Services.AddIpop();
        return builder.Build();
    }
}
