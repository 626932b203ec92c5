using Ipop;
using Ipop.Tincan.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ReadmeExample.Snippets;

/// <summary>docs/controller-api.md, "Hosting the server": compiled here, the doc's block is checked against the region.</summary>
internal static class ControllerApiHosting
{
    public static void Configure(HostApplicationBuilder builder)
    {
        // <snippet:controller-api-hosting>
        builder.Services.AddIpop()                                                     // starts Tincan, keeps it until stop
            .AddTincan(o => o.PrivateKeyPath = "/var/lib/ipop/node.key")               // required: the ITincan the API drives
            .AddLinuxTunTap()                                                          // optional: interface.* operations
            .AddControllerApi(o => o.SocketPath = "/run/ipop/tincan.sock");
        builder.Services.AddSingleton<IControllerRouterFactory, MyRouterFactory>();    // optional: the host's routers
        // </snippet:controller-api-hosting>
    }

    // The doc's MyRouterFactory stands for the host's own routing; this one only makes the snippet compile.
    private sealed class MyRouterFactory : IControllerRouterFactory
    {
        public IControllerRouter Create(VirtualInterfaceMode mode) => throw new NotSupportedException();
    }
}
