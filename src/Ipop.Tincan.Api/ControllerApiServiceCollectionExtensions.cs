using Ipop.Tincan.Api;
using Ipop.Tincan.Api.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Controller–Tincan API server.</summary>
public static class ControllerApiServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="ControllerApiServer"/> as a singleton and a hosted service, its options (validated at
    /// start) and a logger provider that feeds <c>log</c> events. Expects an <see cref="Ipop.ITincan"/> in the
    /// container; uses an <see cref="Ipop.IVirtualInterfaceFactory"/> and an <see cref="IControllerRouterFactory"/>
    /// when registered, and <see cref="TimeProvider"/> (the system clock unless replaced). Calling it again
    /// only adds another options configuration.
    /// </summary>
    public static IServiceCollection AddTincanControllerApi(this IServiceCollection services, Action<ControllerApiOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ControllerApiOptions>().Configure(configure).ValidateOnStart();
        if (services.Any(d => d.ServiceType == typeof(ControllerApiServer)))
        {
            // Called again: the options above add to the first call's; one server, one hosted service.
            return services;
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ControllerApiOptions>, ControllerApiOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LogForwarder>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, LogForwarder>(sp => sp.GetRequiredService<LogForwarder>()));
        services.TryAddSingleton(sp => new ControllerApiServer(
            sp.GetRequiredService<IOptions<ControllerApiOptions>>(),
            sp.GetRequiredService<Ipop.ITincan>(),
            sp.GetService<ILogger<ControllerApiServer>>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<Ipop.IVirtualInterfaceFactory>(),
            sp.GetService<IControllerRouterFactory>())
        {
            LogForwarder = sp.GetRequiredService<LogForwarder>(),
        });
        services.AddHostedService(sp => sp.GetRequiredService<ControllerApiServer>());
        return services;
    }
}
