using Ipop;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ReadmeExample.Snippets;

/// <summary>The C# blocks of docs/sdk.md: compiled here, each doc block is checked against its region.</summary>
internal static class SdkSnippets
{
    public static void SocialVpn(HostApplicationBuilder builder, IConfiguration config)
    {
        // <snippet:sdk-socialvpn>
        builder.Services.AddIpop()
            .AddLinuxTunTap()
            .AddTincan(o => config.GetSection("Tincan").Bind(o))
            .AddXmppSignaling(o => config.GetSection("Xmpp").Bind(o))
            .AddSocialVpn(o => config.GetSection("SocialVpn").Bind(o));
        // </snippet:sdk-socialvpn>
    }

    public static void OwnController(HostApplicationBuilder builder, IConfiguration config)
    {
        // <snippet:sdk-own-controller>
        builder.Services.AddIpop()
            .AddTincan(o => config.GetSection("Tincan").Bind(o))
            .AddXmppSignaling(o => config.GetSection("Xmpp").Bind(o))
            .AddController<MyController>();
        // </snippet:sdk-own-controller>
    }

    public static async Task<int> WaitUntilReadyAsync(HostApplicationBuilder builder)
    {
        // <snippet:sdk-ready>
        using IHost host = builder.Build();
        await host.StartAsync();
        IIpopNode node = host.Services.GetRequiredService<IIpopNode>();
        await node.WaitUntilReadyAsync(CancellationToken.None);    // throws what stopped the start
        Console.WriteLine($"ready: {node.Tincan.LocalKey}");
        await host.WaitForShutdownAsync();
        return Environment.ExitCode;                               // 2 or 3 if the node failed later
        // </snippet:sdk-ready>
    }

    public static async Task<int> ConfigurationErrorsAsync(HostApplicationBuilder builder)
    {
        // <snippet:sdk-exit-codes>
        try
        {
            await builder.Build().RunAsync();
            return Environment.ExitCode;
        }
        catch (OptionsValidationException e)
        {
            foreach (string failure in e.Failures)
            {
                Console.Error.WriteLine(failure);                  // each names its key, e.g. GroupVpn:Subnet
            }

            return 2;
        }
        // </snippet:sdk-exit-codes>
    }

    // <snippet:sdk-controller>
    internal sealed class MyController(ITincan tincan, IOverlaySignaling signaling) : IController
    {
        public async Task RunAsync(CancellationToken cancellationToken)
        {
            await signaling.ConnectAsync(cancellationToken);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken); // decide which links exist, from events
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            finally
            {
                foreach (ITincanLink link in tincan.Links.ToList())
                {
                    tincan.RemoveLink(link.Peer);                      // a stopped controller leaves no links
                }
            }
        }
    }
    // </snippet:sdk-controller>
}
