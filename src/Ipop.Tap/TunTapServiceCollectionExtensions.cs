using Ipop;
using Ipop.Tap;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Linux TUN/TAP implementation of <see cref="IVirtualInterfaceFactory"/>.</summary>
public static class TunTapServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="LinuxTunTapFactory"/> as the singleton <see cref="IVirtualInterfaceFactory"/>
    /// (unless one is registered already), using the container's <see cref="ILoggerFactory"/> and
    /// <see cref="TimeProvider"/> when present.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The same collection, for chaining.</returns>
    public static IServiceCollection AddLinuxTunTap(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IVirtualInterfaceFactory>(sp => OperatingSystem.IsLinux()
            ? new LinuxTunTapFactory(sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>())
            : throw new PlatformNotSupportedException($"AddLinuxTunTap: TUN/TAP devices through /dev/net/tun exist on Linux only, not on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; register another {nameof(IVirtualInterfaceFactory)} on this OS."));
        return services;
    }
}
