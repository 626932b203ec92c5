using Ipop;
using Ipop.Tincan;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Tincan to an <see cref="IIpopBuilder"/>.</summary>
public static class TincanIpopBuilderExtensions
{
    /// <summary>
    /// Adds the node's <see cref="ITincan"/> configured by <paramref name="configure"/>, with options validated when the
    /// host starts (see <see cref="TincanServiceCollectionExtensions.AddTincan"/>). The hosted service of
    /// <c>AddIpop()</c> starts it and disposes it after the controller has stopped.
    /// </summary>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddTincan(this IIpopBuilder builder, Action<TincanOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTincan(configure);
        return builder;
    }
}
