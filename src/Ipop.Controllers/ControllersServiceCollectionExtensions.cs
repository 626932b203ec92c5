using Ipop;
using Ipop.Controllers;
using Ipop.Controllers.GroupVpn;
using Ipop.Controllers.SocialVpn;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Ipop's VPN controllers.</summary>
public static class ControllersServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="GroupVpnController"/> as the <see cref="IController"/>, with options validated at start.
    /// Needs <see cref="IOverlaySignaling"/> (e.g. <c>AddXmppSignaling</c>), <see cref="ITincan"/>
    /// (<c>AddTincan</c>) and <see cref="IVirtualInterfaceFactory"/> (<c>AddLinuxTunTap</c>).
    /// </summary>
    public static IServiceCollection AddGroupVpn(this IServiceCollection services, Action<GroupVpnOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<GroupVpnOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GroupVpnOptions>, GroupVpnOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GroupVpnController>();
        services.TryAddSingleton<IController>(sp => sp.GetRequiredService<GroupVpnController>());
        return services;
    }

    /// <summary>
    /// Adds <see cref="SocialVpnController"/> as the <see cref="IController"/>, with options validated at start.
    /// Needs the same services as <see cref="AddGroupVpn"/>.
    /// </summary>
    public static IServiceCollection AddSocialVpn(this IServiceCollection services, Action<SocialVpnOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SocialVpnOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SocialVpnOptions>, SocialVpnOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SocialVpnController>();
        services.TryAddSingleton<IController>(sp => sp.GetRequiredService<SocialVpnController>());
        return services;
    }
}
