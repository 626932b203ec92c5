using Ipop;
using Ipop.Tap;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Linux TUN/TAP factory to an <see cref="IIpopBuilder"/>.</summary>
public static class TunTapIpopBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="LinuxTunTapFactory"/> as the <see cref="IVirtualInterfaceFactory"/> the controller creates its
    /// interface with (see <see cref="TunTapServiceCollectionExtensions.AddLinuxTunTap"/>). Creating a device needs
    /// root or <c>CAP_NET_ADMIN</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddLinuxTunTap(this IIpopBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddLinuxTunTap();
        return builder;
    }
}
