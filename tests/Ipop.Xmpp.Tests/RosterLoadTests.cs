using System.Diagnostics;
using System.Text;
using System.Xml.Linq;
using Ipop.Xmpp.Roster;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Tests;

/// <summary>Large rosters: 1,000 contacts load fast, through prosody and through the parser alone.</summary>
public sealed class RosterLoadTests(ProsodyFixture prosody) : IClassFixture<ProsodyFixture>
{
    [Fact]
    public async Task A_1000_contact_roster_loads_from_prosody_in_well_under_a_second()
    {
        string[] users = await prosody.RegisterAsync("big", 1);
        string local = users[0].Split('@')[0];
        prosody.Server.WriteRoster(local, Enumerable.Range(0, 1000).Select(i => ($"contact{i}@{prosody.Server.Domain}", i % 2 == 0 ? "both" : "to")));

        await using var node = new XmppSignaling(prosody.Options(users[0]));
        var clock = Stopwatch.StartNew();
        await node.ConnectAsync(TestContext.Current.CancellationToken);
        clock.Stop();
        Assert.Equal(1000, node.RosterCount);
        TestContext.Current.SendDiagnosticMessage($"connect + TLS + SCRAM + 1000-contact roster: {clock.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task A_recorded_1000_contact_roster_result_parses_in_milliseconds()
    {
        var xml = new StringBuilder("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
        xml.Append("<iq type='result' id='r1' to='a@lab.test/ipop-1'><query xmlns='jabber:iq:roster' ver='1'>");
        for (int i = 0; i < 1000; i++)
        {
            xml.Append("<item jid='contact").Append(i).Append("@lab.test' subscription='both' name='Contact ").Append(i).Append("'><group>ipop</group></item>");
        }

        xml.Append("</query></iq>");
        byte[] bytes = Encoding.UTF8.GetBytes(xml.ToString());
        List<RosterItem> items = [];
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 10; round++)
        {
            using var reader = new XmppStreamReader(new MemoryStream(bytes), XmppXmlLimits.Default);
            await reader.ReadHeaderAsync();
            XElement iq = (await reader.ReadElementAsync())!;
            items = RosterItem.ParseQuery(iq.Element(XName.Get("query", XmppNamespaces.Roster)));
        }

        clock.Stop();
        Assert.Equal(1000, items.Count);
        Assert.All(items, i => Assert.True(i.IsFriend));
        Assert.Equal(["ipop"], items[999].Groups);
        TestContext.Current.SendDiagnosticMessage($"1000-item roster ({bytes.Length} bytes) parsed in {clock.Elapsed.TotalMilliseconds / 10:0.0} ms each");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2));
    }
}
