using System.Diagnostics;
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
            Run("ip", "netns", "add", ns);
            Run("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
            Run("ip", "link", "set", nsIf, "netns", ns);
            Run("ip", "addr", "add", hostIp + "/30", "dev", hostIf);
            Run("ip", "link", "set", hostIf, "up");
            Run("ip", "netns", "exec", ns, "ip", "addr", "add", serverIp + "/30", "dev", nsIf);
            Run("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up");
            Run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");

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
            Run("ip", "link", "del", hostIf, true);
            Run("ip", "netns", "del", ns, true);
        }
    }

    private static void Run(string file, params object[] args)
    {
        bool ignoreErrors = args.Length > 0 && args[^1] is bool b && b;
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (object arg in args.Where(a => a is string))
        {
            info.ArgumentList.Add((string)arg);
        }

        using Process process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} hung");
        }

        if (process.ExitCode != 0 && !ignoreErrors)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} failed: {error}");
        }
    }
}
