using Ipop;
using Ipop.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Ipop to a host: the entry point of the SDK.</summary>
public static class IpopServiceCollectionExtensions
{
    /// <summary>
    /// Registers the hosted service that starts <see cref="ITincan"/>, runs the <see cref="IController"/> until the
    /// host stops and then stops them in order (the controller first, so it removes its links and its interface, then
    /// Tincan), and <see cref="IIpopNode"/>, which says when the node is ready. Without a registered controller it
    /// starts Tincan and keeps it until the host stops (a controller in another process drives it through
    /// <c>AddControllerApi</c>). Calling it again registers nothing new.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder whose <c>Add*</c> methods add Tincan, an interface factory, signaling and a controller.</returns>
    public static IIpopBuilder AddIpop(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<IpopNode>();
        services.TryAddSingleton<IIpopNode>(static sp => sp.GetRequiredService<IpopNode>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, IpopHostedService>());
        return new IpopBuilder(services);
    }
}
