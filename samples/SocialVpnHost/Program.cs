using Ipop;
using Ipop.Controllers;
using Ipop.Samples.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// socialvpn run --config socialvpn.json | socialvpn status --config socialvpn.json
return await SampleHost.RunAsync(
    args,
    "socialvpn",
    ["Xmpp", "Tincan", "SocialVpn", "Status", "Logging"],
    static (ipop, config) => ipop
        .AddIpopNode(config)
        .AddSocialVpn(o => NodeServices.BindStrict(config.GetSection("SocialVpn"), o, static (s, x) => s.Bind(x, b => b.ErrorOnUnknownConfiguration = true))),
    static sp =>
    {
        SocialVpnController controller = sp.GetRequiredService<SocialVpnController>();
        IOverlaySignaling signaling = sp.GetRequiredService<IOverlaySignaling>();
        return new StatusReport(
            $"SocialVPN view {controller.Pool}",
            signaling.IsConnected ? signaling.LocalId.Value : "(not connected)",
            controller.InterfaceName ?? "-",
            "tun",
            controller.Address is { } a ? [a.ToString()] : [],
            [.. controller.GetFriends().Select(Row)]);
    });

// On demand (SocialVpn:Links), an online friend without traffic has no link by design: "Idle", not a failure.
static PeerStatusRow Row(FriendStatus f)
{
    PeerStatusRow row = PeerStatusRow.From(f.Peer, f.User, [f.Address.Address.ToString(), f.Name], f.Link, f.Stats);
    return f.Link is null ? row with { State = "Idle", Detail = "idle (no link until traffic)" } : row;
}
