using Ipop.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Ipop.Hosting.Tests;

public sealed class AddIpopTests
{
    [Fact]
    public void Calling_AddIpop_twice_registers_one_hosted_service_and_one_node()
    {
        var services = new ServiceCollection();
        IIpopBuilder first = services.AddIpop();
        IIpopBuilder second = services.AddIpop();

        Assert.Same(services, first.Services);
        Assert.Same(services, second.Services);
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(IpopHostedService));
        Assert.Single(services, d => d.ServiceType == typeof(IIpopNode));
        Assert.Single(services, d => d.ServiceType == typeof(IpopNode));
    }

    [Fact]
    public void AddController_registers_the_type_as_the_one_controller()
    {
        var services = new ServiceCollection();
        services.AddSingleton(new EventLog());
        services.AddIpop().AddController<FakeController>().AddController<FakeController>();

        Assert.Single(services, d => d.ServiceType == typeof(IController));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Same(provider.GetRequiredService<FakeController>(), provider.GetRequiredService<IController>());
    }

    [Fact]
    public void A_controller_registered_first_is_not_replaced()
    {
        var services = new ServiceCollection();
        services.AddSingleton(new EventLog());
        var mine = new FakeController(new EventLog());
        services.AddSingleton<IController>(mine);
        services.AddIpop().AddController<FakeController>();

        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Same(mine, provider.GetRequiredService<IController>());
    }
}
