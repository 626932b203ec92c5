using Ipop.Tincan.Api;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the controller API server to an <see cref="IIpopBuilder"/>.</summary>
public static class ControllerApiIpopBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="ControllerApiServer"/>, which lets a controller in another process (any language) drive the
    /// node's Tincan over a Unix socket (see <see cref="ControllerApiServiceCollectionExtensions.AddTincanControllerApi"/>
    /// and docs/controller-api.md).
    /// </summary>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddControllerApi(this IIpopBuilder builder, Action<ControllerApiOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTincanControllerApi(configure);
        return builder;
    }
}
