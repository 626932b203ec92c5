using System.Xml.Linq;
using Ipop.Xmpp.Roster;
using Ipop.Xmpp.Stanzas;
using Ipop.Xmpp.Xml;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The XMPP stream reader on bytes from the server: the stream header, then stanzas until the stream ends, each
/// stanza through the readers the signaling applies (error condition, roster query, JIDs). Rejection:
/// <see cref="XmppXmlException"/> (a stream error) and <see cref="EndOfStreamException"/> (the connection closed).
/// </summary>
internal sealed class XmppStreamHarness : IHarness
{
    private static readonly XNamespace Roster = "jabber:iq:roster";

    public string Name => "xmpp-stream";

    public string Description => "XMPP stream reader and stanza readers (Ipop.Xmpp/Xml, Stanzas, Roster)";

    public void Run(ReadOnlySpan<byte> input)
    {
        // A small stanza limit keeps the limit paths reachable with small inputs.
        using var stream = new MemoryStream(input.ToArray(), writable: false);
        using var reader = new XmppStreamReader(stream, new XmppXmlLimits(4096, 8));
        try
        {
            _ = reader.ReadHeaderAsync().GetAwaiter().GetResult();
            for (int i = 0; i < 64; i++)
            {
                XElement? stanza = reader.ReadElementAsync().GetAwaiter().GetResult();
                if (stanza is null)
                {
                    return;
                }

                _ = StanzaReader.Type(stanza, "normal");
                _ = StanzaReader.ErrorCondition(stanza);
                _ = StanzaReader.HasMarker(stanza);
                _ = Jid.TryParse(StanzaReader.Attr(stanza, "from"), out _);
                _ = RosterItem.ParseQuery(stanza.Element(Roster + "query"));
            }
        }
        catch (XmppXmlException)
        {
        }
        catch (EndOfStreamException)
        {
        }
    }
}
