using Ipop;
using Ipop.Xmpp;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds XMPP signaling to an <see cref="IIpopBuilder"/>.</summary>
public static class XmppIpopBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="XmppSignaling"/> as the node's <see cref="IOverlaySignaling"/>, with options validated when the
    /// host starts (see <see cref="XmppServiceCollectionExtensions.AddXmppSignaling"/>).
    /// </summary>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddXmppSignaling(this IIpopBuilder builder, Action<XmppSignalingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddXmppSignaling(configure);
        return builder;
    }
}
