using Ipop;
using Ipop.Controllers;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds one of Ipop's VPN controllers to an <see cref="IIpopBuilder"/>.</summary>
public static class ControllersIpopBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="GroupVpnController"/> as the node's <see cref="IController"/>, with options validated when the
    /// host starts (see <see cref="ControllersServiceCollectionExtensions.AddGroupVpn"/>). Needs Tincan
    /// (<c>AddTincan</c>), signaling (<c>AddXmppSignaling</c>) and an interface factory (<c>AddLinuxTunTap</c>).
    /// </summary>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddGroupVpn(this IIpopBuilder builder, Action<GroupVpnOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddGroupVpn(configure);
        return builder;
    }

    /// <summary>
    /// Adds <see cref="SocialVpnController"/> as the node's <see cref="IController"/>, with options validated when the
    /// host starts (see <see cref="ControllersServiceCollectionExtensions.AddSocialVpn"/>). Needs the same services as
    /// <see cref="AddGroupVpn"/>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddSocialVpn(this IIpopBuilder builder, Action<SocialVpnOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSocialVpn(configure);
        return builder;
    }
}
