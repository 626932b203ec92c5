using System.Text;
using System.Xml.Linq;
using Ipop.Xmpp.Roster;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Tests.Xml;

/// <summary>Bounded random mutation of valid streams: the reader only ever fails with its own exceptions, and never hangs.</summary>
public sealed class XmppStreamReaderFuzzTests
{
    private const string Valid = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        + "<iq type='result' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@lab.test' subscription='both'><group>Ipop</group></item></query></iq>"
        + "<presence from='bob@lab.test/ipop-1'><ipop xmlns='urn:ipop:signaling:1' ver='1'/></presence>"
        + "<message from='bob@lab.test/ipop-1'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>{&quot;a&quot;:1}</ipop></message></stream:stream>";

    [Fact]
    public async Task Mutated_streams_fail_cleanly_or_parse()
    {
        byte[] original = Encoding.UTF8.GetBytes(Valid);
        var random = new Random(20261125);
        int parsed = 0;
        int failed = 0;
        for (int round = 0; round < 3000; round++)
        {
            byte[] bytes = (byte[])original.Clone();
            int mutations = 1 + random.Next(4);
            for (int m = 0; m < mutations; m++)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                bytes = bytes[..random.Next(bytes.Length)];
            }

            using var reader = new XmppStreamReader(new MemoryStream(bytes), new XmppXmlLimits(4096, 8));
            try
            {
                await reader.ReadHeaderAsync();
                for (int i = 0; i < 10; i++)
                {
                    XElement? element = await reader.ReadElementAsync();
                    if (element is null)
                    {
                        break;
                    }

                    _ = RosterItem.ParseQuery(element.Elements().FirstOrDefault());
                }

                parsed++;
            }
            catch (Exception ex) when (ex is XmppXmlException or EndOfStreamException)
            {
                failed++;
            }
        }

        Assert.True(parsed > 0 && failed > 0, $"parsed {parsed}, failed {failed}");
    }
}
