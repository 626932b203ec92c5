using Ipop.Tincan;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

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

    /// <summary>
    /// Binds a section and fails on keys the options type does not have (a typo must not pass silently) and on values
    /// of the wrong shape, with an <see cref="OptionsValidationException"/> whose failures name each key path as the
    /// file spells it (<c>GroupVpn:Subnt</c>).
    /// </summary>
    public static void BindStrict(IConfiguration section, object options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        if (section is IConfigurationSection s)
        {
            var errors = new List<string>();
            StrictConfiguration.Check(s, options.GetType(), errors);
            if (errors.Count > 0)
            {
                throw new OptionsValidationException(s.Path, options.GetType(), errors);
            }
        }

        section.Bind(options, b => b.ErrorOnUnknownConfiguration = true);
    }
}
