using Ipop;
using Ipop.Controllers;
using Ipop.Tincan;
using Ipop.Samples.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// groupvpn run --config groupvpn.json | groupvpn status --config groupvpn.json
return await SampleHost.RunAsync(
    args,
    "groupvpn",
    ["Xmpp", "Tincan", "GroupVpn", "Status", "Logging"],
    static (services, config) =>
    {
        static BinderOptions Strict(BinderOptions o)
        {
            o.ErrorOnUnknownConfiguration = true;
            return o;
        }

        services.AddLinuxTunTap();
        services.AddTincan(o => config.GetSection("Tincan").Bind(o, b => Strict(b)));
        services.AddXmppSignaling(o => config.GetSection("Xmpp").Bind(o, b => Strict(b)));
        services.AddGroupVpn(o => config.GetSection("GroupVpn").Bind(o, b => Strict(b)));
    },
    static sp =>
    {
        GroupVpnController controller = sp.GetRequiredService<GroupVpnController>();
        IOverlaySignaling signaling = sp.GetRequiredService<IOverlaySignaling>();
        var options = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<GroupVpnOptions>>().Value;
        return new StatusReport(
            "GroupVPN " + options.Group,
            signaling.IsConnected ? signaling.LocalId.Value : "(not connected)",
            controller.InterfaceName ?? "-",
            options.Mode,
            [.. controller.Addresses.Select(a => a.ToString())],
            [.. controller.GetMembers().Select(m => PeerStatusRow.From(m.Peer, m.User, m.Addresses.Select(a => a.ToString()), m.Link, m.Stats))]);
    });
