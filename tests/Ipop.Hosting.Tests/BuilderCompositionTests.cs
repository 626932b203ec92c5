using Ipop.Controllers;
using Ipop.Hosting.Internal;
using Ipop.Tap;
using Ipop.Tincan.Api;
using Ipop.Xmpp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Ipop.Hosting.Tests;

/// <summary>The builder methods of every package compose into one host (built, not started: no device, no socket).</summary>
public sealed class BuilderCompositionTests
{
    [Fact]
    public async Task The_READMEs_chain_registers_the_GroupVPN_node_with_one_hosted_service()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        IIpopBuilder ipop = builder.Services.AddIpop();

        IIpopBuilder chained = ipop
            .AddLinuxTunTap()
            .AddTincan(o => o.ListenAddress = "127.0.0.1")
            .AddXmppSignaling(o =>
            {
                o.Jid = "alice@example.org";
                o.Password = "secret";
            })
            .AddGroupVpn(o =>
            {
                o.Group = "vpn@conference.example.org";
                o.Subnet = "198.19.0.0/24";
            });

        Assert.Same(ipop.Services, chained.Services);
        using IHost host = builder.Build();
        Assert.IsType<GroupVpnController>(host.Services.GetRequiredService<IController>());
        Assert.IsType<LinuxTunTapFactory>(host.Services.GetRequiredService<IVirtualInterfaceFactory>());
        Assert.IsType<XmppSignaling>(host.Services.GetRequiredService<IOverlaySignaling>());
        Assert.Single(host.Services.GetServices<IHostedService>().OfType<IpopHostedService>());
        Assert.Same(host.Services.GetRequiredService<ITincan>(), host.Services.GetRequiredService<IIpopNode>().Tincan);
        await host.Services.GetRequiredService<ITincan>().DisposeAsync();
    }

    [Fact]
    public async Task The_controller_API_needs_no_controller_and_SocialVPN_adds_one()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddIpop()
            .AddTincan(o => o.ListenAddress = "127.0.0.1")
            .AddControllerApi(o => o.SocketPath = "/run/ipop-hosting-tests/never-opened.sock");

        using IHost host = builder.Build();
        Assert.Null(host.Services.GetService<IController>());

        // The node's service is registered first, so the host stops it last: the API server lets go of Tincan first.
        var hosted = host.Services.GetServices<IHostedService>().ToList();
        Assert.IsType<IpopHostedService>(hosted[0]);
        Assert.Contains(hosted, h => h is ControllerApiServer);
        await host.Services.GetRequiredService<ITincan>().DisposeAsync();

        HostApplicationBuilder social = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        social.Services.AddIpop().AddSocialVpn(o => o.Pool = "198.19.0.0/16");
        Assert.Contains(social.Services, d => d.ServiceType == typeof(IController));
    }
}
