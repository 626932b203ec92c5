using Ipop.Tincan;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Ipop.Samples.Hosting;

/// <summary>The services every sample node needs, bound strictly from its config file.</summary>
public static class NodeServices
{
    /// <summary>Adds the TUN/TAP factory, Tincan (section <c>Tincan</c>) and XMPP signaling (section <c>Xmpp</c>).</summary>
    public static IServiceCollection AddIpopNode(this IServiceCollection services, IConfiguration config)
    {
        services.AddLinuxTunTap();
        services.AddTincan(o => BindStrict(config.GetSection("Tincan"), o));
        services.AddXmppSignaling(o => BindStrict(config.GetSection("Xmpp"), o));
        return services;
    }

    /// <summary>Binds a section and fails on keys the options type does not have (a typo must not pass silently).</summary>
    public static void BindStrict(IConfiguration section, object options) => section.Bind(options, b => b.ErrorOnUnknownConfiguration = true);
}
