using Microsoft.Extensions.DependencyInjection;

namespace Ipop.Hosting.Internal;

/// <summary>The builder <c>AddIpop()</c> returns: only a handle on the collection, all state is in the registrations.</summary>
internal sealed class IpopBuilder(IServiceCollection services) : IIpopBuilder
{
    public IServiceCollection Services { get; } = services;
}
