using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;
using Ipop.Xmpp;
using Ipop.Xmpp.Connection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 11, "no stanza a remote user can send ends our session": while two GroupVPN members ping each other every
/// 0.1 s, a foreign account on the same prosody sends one of them the issue's attack (messages nested 40 deep, 20 of
/// them at 2/s) and the other hostile stanzas (nested 1000 deep, huge, malformed entities, namespace abuse). No ping
/// may be lost and the member's XMPP session must never drop. Before, each nested message ended the session and, with
/// it, every link.
/// </summary>
public sealed partial class HostileStanzaLabTests(OverlayLabFixture lab, ITestOutputHelper output) : IClassFixture<OverlayLabFixture>, IDisposable
{
    private readonly GroupLab _group = new(lab, "hostile");

    public void Dispose() => _group.Dispose();

    private static string Nest(int depth) => string.Concat(Enumerable.Repeat("<a xmlns='urn:x'>", depth)) + string.Concat(Enumerable.Repeat("</a>", depth));

    private static string Message(string to, string inner) => $"<message to='{to}' type='chat'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>x</ipop><body>{inner}</body></message>";

    [Fact]
    public async Task Hostile_stanzas_from_a_foreign_account_lose_no_ping_and_never_drop_the_session()
    {
        string group = _group.NewGroup();
        await _group.AddMembersAsync("hown", group, ["hpub", "hcone"]);
        ProductNode pub = await _group.NodeAsync("hpub", "public", group, "198.19.0.1");
        ProductNode cone = await _group.NodeAsync("hcone", "cone", group, "198.19.0.2");
        await pub.StartAsync("GroupVPN");
        await cone.StartAsync("GroupVPN");
        Assert.True(await _group.ConvergeAsync([pub, cone], TimeSpan.FromSeconds(60)) is not null, _group.Diagnose());
        string target = await GroupLab.NodeIdAsync(pub);

        // The foreign account: a valid login on the same server, not on the member list.
        await lab.RegisterAsync("mallory");
        LabNamespace malloryHost = lab.Host("mallory", "public");
        await using var forwarder = new NamespaceTcpForwarder(malloryHost.Name, new IPEndPoint(IPAddress.Parse(lab.Xmpp.Address), lab.Xmpp.Port));
        var mallory = new XmppSignalingOptions
        {
            Jid = $"mallory@{lab.Xmpp.Domain}",
            Password = "pw-mallory",
            Server = "127.0.0.1",
            Port = forwarder.Port,
            TrustedCaFile = lab.Xmpp.CertificatePath,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };

        const int Count = 250;
        using LabProcess ping = lab.Lab.Start(cone.Namespace, "ping", ["-4", "-n", "-i", "0.1", "-W", "2", "-c", Count.ToString(CultureInfo.InvariantCulture), "198.19.0.1"]);

        // The issue's attack: 20 messages nested 40 deep at 2/s.
        int sent = 0;
        await using (XmppConnection raw = await XmppConnection.OpenAsync(mallory, "raw", NullLogger.Instance, TimeProvider.System, null, TestContext.Current.CancellationToken))
        {
            for (int i = 0; i < 20; i++)
            {
                await raw.SendRawAsync(Message(target, Nest(40)), TestContext.Current.CancellationToken);
                sent++;
                await Task.Delay(500, TestContext.Current.CancellationToken);
            }
        }

        // The rest, each on its own connection: prosody closes the sender's stream on the malformed ones.
        string[] others =
        [
            Message(target, Nest(1000)),
            Message(target, new string('x', 300 * 1024)),
            Message(target, "&unknown;"),
            $"<message to='{target}' type='chat'><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;'>]><body>&lol2;</body></message>",
            Message(target, "<p:x/>"),
            $"<message xmlns='http://etherx.jabber.org/streams' to='{target}' type='chat'><body>x</body></message>",
            Message(target, "<x xmlns:stream='http://etherx.jabber.org/streams'><stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></x>"),
        ];
        foreach (string stanza in others)
        {
            await using XmppConnection raw = await XmppConnection.OpenAsync(mallory, "raw", NullLogger.Instance, TimeProvider.System, null, TestContext.Current.CancellationToken);
            await raw.SendRawAsync(stanza, TestContext.Current.CancellationToken);
            sent++;
            await Task.Delay(300, TestContext.Current.CancellationToken);
        }

        Assert.True(ping.WaitForExit(TimeSpan.FromSeconds(40)), "ping did not finish");
        Match summary = PingSummary().Match(ping.Output);
        Assert.True(summary.Success, ping.Output);
        int transmitted = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture);
        int lost = transmitted - int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture);
        int skipped = Regex.Count(pub.Process!.Output, "Skipped a <");
        output.WriteLine($"{sent} hostile stanzas sent; pings: {lost} of {transmitted} lost; skip log lines on the target: {skipped}");

        Assert.Equal(Count, transmitted);
        Assert.True(lost == 0, $"lost {lost} pings\n{_group.Diagnose()}");
        Assert.DoesNotContain("XMPP session lost", pub.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("link removed", pub.Process.Output, StringComparison.Ordinal);
        Assert.True(skipped > 0, $"the target never said it skipped a stanza:\n{pub.Process.Output}");

        // The stanzas that do parse are offers from a stranger: refused, and said so at Information.
        Assert.Contains($"Dropped message from mallory@{lab.Xmpp.Domain}", pub.Process.Output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex PingSummary();
}
