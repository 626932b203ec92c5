using Ipop.Xmpp;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers XMPP signaling.</summary>
public static class XmppServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="XmppSignaling"/> as the <see cref="Ipop.IOverlaySignaling"/> singleton, with
    /// <see cref="XmppSignalingOptions"/> validated on start (messages name the key at fault).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddXmppSignaling(this IServiceCollection services, Action<XmppSignalingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<XmppSignalingOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<XmppSignalingOptions>, XmppSignalingOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new XmppSignaling(
            sp.GetRequiredService<IOptions<XmppSignalingOptions>>().Value,
            sp.GetService<ILogger<XmppSignaling>>(),
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton<Ipop.IOverlaySignaling>(sp => sp.GetRequiredService<XmppSignaling>());
        return services;
    }
}
