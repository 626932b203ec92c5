using System.Diagnostics.CodeAnalysis;
using Ipop.Tincan;
using Ipop.Xmpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ipop.Samples.Hosting;

/// <summary>The services every sample node needs, bound strictly from its config file.</summary>
public static class NodeServices
{
    // The option types with nested sections: every object type under the root is listed so a Native AOT build keeps
    // the property metadata the strict check reads (see ConfigSchema).
    private static readonly ConfigSchema TincanSchema = ConfigSchema.Of<TincanOptions>().With<StunServerOptions>().With<TurnServerOptions>();
    private static readonly ConfigSchema XmppSchema = ConfigSchema.Of<XmppSignalingOptions>();

    /// <summary>Adds the TUN/TAP factory, Tincan (section <c>Tincan</c>) and XMPP signaling (section <c>Xmpp</c>).</summary>
    public static IIpopBuilder AddIpopNode(this IIpopBuilder builder, IConfiguration config) =>
        builder
            .AddLinuxTunTap()
            .AddTincan(o => BindStrict(config.GetSection("Tincan"), o))
            .AddXmppSignaling(o => BindStrict(config.GetSection("Xmpp"), o));

    /// <summary>Binds the <c>Tincan</c> section strictly (see <see cref="BindStrict{T}"/>).</summary>
    public static void BindStrict(IConfiguration section, TincanOptions options) =>
        BindStrict(section, options, TincanSchema, static (s, o) => s.Bind(o, b => b.ErrorOnUnknownConfiguration = true));

    /// <summary>Binds the <c>Xmpp</c> section strictly (see <see cref="BindStrict{T}"/>).</summary>
    public static void BindStrict(IConfiguration section, XmppSignalingOptions options) =>
        BindStrict(section, options, XmppSchema, static (s, o) => s.Bind(o, b => b.ErrorOnUnknownConfiguration = true));

    /// <summary>
    /// Binds a section of a flat options type (no nested sections) with <paramref name="bind"/> and fails on keys the
    /// options type does not have (a typo must not pass silently) and on values of the wrong shape, with an
    /// <see cref="OptionsValidationException"/> whose failures name each key path as the file spells it
    /// (<c>GroupVpn:Subnt</c>). <paramref name="bind"/> is the caller's <c>section.Bind(options)</c>, written where the
    /// options type is known so the configuration binder's source generator binds it without reflection.
    /// </summary>
    public static void BindStrict<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>(IConfiguration section, T options, Action<IConfiguration, T> bind)
        where T : class =>
        BindStrict(section, options, ConfigSchema.Of<T>(), bind);

    private static void BindStrict<T>(IConfiguration section, T options, ConfigSchema schema, Action<IConfiguration, T> bind)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bind);
        if (section is IConfigurationSection s)
        {
            var errors = new List<string>();
            StrictConfiguration.Check(s, schema, errors);
            if (errors.Count > 0)
            {
                throw new OptionsValidationException(s.Path, typeof(T), errors);
            }
        }

        bind(section, options);
    }
}
