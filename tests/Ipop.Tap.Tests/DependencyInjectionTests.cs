using Microsoft.Extensions.DependencyInjection;

namespace Ipop.Tap.Tests;

public sealed class DependencyInjectionTests
{
    [Fact]
    public void AddLinuxTunTap_registers_a_singleton_factory()
    {
        using ServiceProvider provider = new ServiceCollection().AddLinuxTunTap().BuildServiceProvider();

        var factory = provider.GetRequiredService<IVirtualInterfaceFactory>();

        Assert.IsType<LinuxTunTapFactory>(factory);
        Assert.Same(factory, provider.GetRequiredService<IVirtualInterfaceFactory>());
    }

    [Fact]
    public void AddLinuxTunTap_keeps_an_existing_factory()
    {
        var existing = new LinuxTunTapFactory();
        var services = new ServiceCollection().AddSingleton<IVirtualInterfaceFactory>(existing);

        using ServiceProvider provider = services.AddLinuxTunTap().BuildServiceProvider();

        Assert.Same(existing, provider.GetRequiredService<IVirtualInterfaceFactory>());
    }
}
