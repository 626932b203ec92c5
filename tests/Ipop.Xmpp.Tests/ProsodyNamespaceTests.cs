using Ipop.Lab.Servers;

namespace Ipop.Xmpp.Tests;

/// <summary>The fixture's namespace mode, as the integration lab uses it: prosody inside a netns on 198.18.0.0/15.</summary>
public sealed class ProsodyNamespaceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Prosody_runs_inside_a_network_namespace_and_clients_reach_it_over_a_veth_pair()
    {
        int id = (Environment.ProcessId % 200) + 20;
        string ns = $"ipopx{Environment.ProcessId}";
        string hostIf = $"ipxh{Environment.ProcessId % 100000}";
        string nsIf = $"ipxn{Environment.ProcessId % 100000}";
        string hostIp = $"198.19.{id}.1";
        string serverIp = $"198.19.{id}.2";
        try
        {
            LabCommands.CreateNamespace(ns, hostIf, hostIp + "/30", nsIf, serverIp + "/30");

            await using ProsodyServer server = await ProsodyServer.StartAsync(new ProsodyServerOptions { NetworkNamespace = ns, ListenAddress = serverIp }, Ct);
            await server.RegisterAsync("nsuser", "pw-nsuser", Ct);
            await using var node = new XmppSignaling(new XmppSignalingOptions
            {
                Jid = "nsuser@lab.test",
                Password = "pw-nsuser",
                Server = serverIp,
                Port = server.Port,
                TrustedCaFile = server.CertificatePath,
            });
            await node.ConnectAsync(Ct);
            Assert.True(node.IsConnected);
        }
        finally
        {
            LabCommands.RemoveNamespace(ns, hostIf);
        }
    }
}
