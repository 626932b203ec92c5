using Ipop;
using Ipop.Controllers;
using Ipop.GroupVpnHost;
using Ipop.Samples.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// groupvpn run --config groupvpn.json | groupvpn status --config groupvpn.json
// groupvpn members add|remove USER... --config groupvpn.json | groupvpn members list --config groupvpn.json
return await SampleHost.RunAsync(
    args,
    "groupvpn",
    ["Xmpp", "Tincan", "GroupVpn", "Status", "Logging"],
    static (ipop, config) => ipop
        .AddIpopNode(config)
        .AddGroupVpn(o => NodeServices.BindStrict(config.GetSection("GroupVpn"), o, static (s, x) => s.Bind(x, b => b.ErrorOnUnknownConfiguration = true))),
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
            [.. controller.GetMembers().Select(m => PeerStatusRow.From(m.Peer, m.User, m.Addresses.Select(a => a.ToString()), m.Link, m.Stats, m.Via, m.Hops))]);
    },
    [MembersCommand.Create()]);
