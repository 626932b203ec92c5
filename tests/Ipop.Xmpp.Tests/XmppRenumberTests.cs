using System.Diagnostics;
using Ipop.Lab.Servers;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// The client's own address changes under a live session (a renumbered host, Wi-Fi to wired): prosody runs in a
/// namespace, the client in the test process reaches it over a veth pair whose host-side address the test moves.
/// </summary>
public sealed class XmppRenumberTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_session_whose_local_address_is_gone_reconnects_at_once_when_asked_to_verify()
    {
        // 198.19.{id}.8/29: ProsodyNamespaceTests uses .0/30 of the same /24, so the two can run side by side.
        int id = (Environment.ProcessId % 200) + 20;
        string ns = $"ipopr{Environment.ProcessId}";
        string hostIf = $"ipxr{Environment.ProcessId % 100000}";
        string nsIf = $"ipxs{Environment.ProcessId % 100000}";
        string oldIp = $"198.19.{id}.9";
        string serverIp = $"198.19.{id}.10";
        string newIp = $"198.19.{id}.11";
        try
        {
            LabCommands.CreateNamespace(ns, hostIf, oldIp + "/29", nsIf, serverIp + "/29");

            await using ProsodyServer server = await ProsodyServer.StartAsync(new ProsodyServerOptions { NetworkNamespace = ns, ListenAddress = serverIp }, Ct);
            await server.RegisterAsync("mover", "pw-mover", Ct);
            var log = new LogCapture();
            await using var node = new XmppSignaling(
                new XmppSignalingOptions
                {
                    Jid = "mover@lab.test",
                    Password = "pw-mover",
                    Server = serverIp,
                    Port = server.Port,
                    TrustedCaFile = server.CertificatePath,
                },
                log);
            var probe = new SignalingProbe(node);
            await node.ConnectAsync(Ct);

            // A check while the address is still ours is a ping that is answered: the session stays.
            node.VerifyConnectionNow();
            await Task.Delay(TimeSpan.FromSeconds(2.5), Ct);
            Assert.True(node.IsConnected);
            Assert.DoesNotContain(probe.ConnectionEvents, e => !e.IsConnected);
            Assert.False(log.Has("is gone"), string.Join('\n', log.Lines));

            // The new address first, so the route to the server never goes away; then the old one is removed. The new
            // one is a secondary of the same subnet, which the kernel deletes with the primary unless told to promote
            // it (then the server would be reached through the default route, outside the lab).
            LabCommands.Run("sysctl", "-qw", $"net.ipv4.conf.{hostIf}.promote_secondaries=1");
            LabCommands.Run("ip", "addr", "add", newIp + "/29", "dev", hostIf);
            LabCommands.Run("ip", "addr", "del", oldIp + "/29", "dev", hostIf);
            var clock = Stopwatch.StartNew();
            node.VerifyConnectionNow();
            await SignalingProbe.WaitUntilAsync(() => probe.ConnectionEvents.Any(e => !e.IsConnected), "the session is found dead", TimeSpan.FromSeconds(10));
            try
            {
                await SignalingProbe.WaitUntilAsync(() => node.IsConnected, "the session is back from the new address", TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException ex)
            {

                throw new TimeoutException($"{ex.Message} Log:\n{string.Join('\n', log.Lines)}", ex);
            }
            TimeSpan back = clock.Elapsed;
            TestContext.Current.TestOutputHelper?.WriteLine($"renumbered {oldIp} -> {newIp}: session back {back.TotalMilliseconds:F0} ms after the check");

            Assert.Contains(probe.ConnectionEvents, e => !e.IsConnected && e.Reason is not null && e.Reason.Contains($"local address {oldIp} is no longer assigned", StringComparison.Ordinal));
            Assert.True(log.Has($"local address {oldIp} is gone: reconnecting at once"), string.Join('\n', log.Lines));

            // An unanswered ping alone takes 2 s, and the reconnect's backoff at least 0.5 s more.
            Assert.True(back < TimeSpan.FromSeconds(2), $"the session came back {back.TotalMilliseconds:F0} ms after the check; expected well under the 2 s ping timeout\n{string.Join('\n', log.Lines)}");
        }
        finally
        {
            LabCommands.RemoveNamespace(ns, hostIf);
        }
    }
}
