using Ipop;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The <see cref="IIpopBuilder"/> methods of Ipop.Hosting itself.</summary>
public static class IpopBuilderExtensions
{
    /// <summary>
    /// Registers <typeparamref name="T"/> as the node's <see cref="IController"/> (a singleton, also resolvable as
    /// <typeparamref name="T"/>), unless a controller is registered already. Its constructor takes what it needs from
    /// the container, typically <see cref="ITincan"/>, <see cref="IOverlaySignaling"/> and
    /// <see cref="IVirtualInterfaceFactory"/>.
    /// </summary>
    /// <typeparam name="T">The controller type.</typeparam>
    /// <param name="builder">The builder from <c>AddIpop()</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static IIpopBuilder AddController<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicConstructors)] T>(this IIpopBuilder builder)
        where T : class, IController
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<T>();
        builder.Services.TryAddSingleton<IController>(static sp => sp.GetRequiredService<T>());
        return builder;
    }
}
