using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// A GroupVPN node: every member of the XMPP room gets an encrypted link to every other and an address in one subnet.
// Settings come from appsettings.json, environment variables (Xmpp__Jid) or the command line (--Xmpp:Jid=...).
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
IConfiguration config = builder.Configuration;

builder.Services.AddIpop()
    .AddLinuxTunTap()
    .AddTincan(o => config.GetSection("Tincan").Bind(o))
    .AddXmppSignaling(o => config.GetSection("Xmpp").Bind(o))
    .AddGroupVpn(o => config.GetSection("GroupVpn").Bind(o));

await builder.Build().RunAsync();
