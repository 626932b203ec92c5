using Ipop;
using Ipop.Tincan;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a Tincan node with Microsoft.Extensions.DependencyInjection.</summary>
public static class TincanServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="ITincan"/> configured by <paramref name="configure"/>; options are validated when
    /// the host starts. Registers <see cref="TimeProvider.System"/> unless a <see cref="TimeProvider"/> is already
    /// registered. The host still calls <see cref="ITincan.StartAsync"/>.
    /// </summary>
    public static IServiceCollection AddTincan(this IServiceCollection services, Action<TincanOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<TincanOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TincanOptions>, TincanOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ITincan>(static sp => TincanNode.Create(
            sp.GetRequiredService<IOptions<TincanOptions>>().Value,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
        return services;
    }
}
