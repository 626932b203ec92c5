using System.Text;
using System.Xml.Linq;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Tests.Xml;

/// <summary>Framing at the byte level agrees with a full XML parser, wherever the reads split the bytes.</summary>
public sealed class StanzaFramerTests
{
    private const string Header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    private static readonly string[] Tricky = ["<", ">", "/>", "'", "\"", "]]>", "<!--", "-->", "&", "<?", "?>", "é", "€", "𝄞", "</message>"];

    [Fact]
    public async Task Random_stanzas_split_at_random_points_parse_exactly_as_a_whole()
    {
        var random = new Random(20261201);
        for (int round = 0; round < 300; round++)
        {
            XElement[] stanzas = [.. Enumerable.Range(0, 1 + random.Next(5)).Select(_ => RandomStanza(random))];
            var text = new StringBuilder(Header);
            foreach (XElement stanza in stanzas)
            {
                // Serialized by XLinq (escapes what must be escaped), plus raw CDATA and comments it would not write.
                text.Append(stanza.ToString(SaveOptions.DisableFormatting).Replace("<cdata />", "<cdata><![CDATA[a<b>]]]]><![CDATA[>c]]]></cdata>", StringComparison.Ordinal)
                    .Replace("<comment />", "<comment><!-- <x> ' \" --></comment>", StringComparison.Ordinal));
                text.Append(random.Next(3) == 0 ? "\n " : string.Empty);
            }

            byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
            var skipped = new List<SkippedStanza>();
            using var reader = new XmppStreamReader(new RandomChunkStream(bytes, random), new XmppXmlLimits(1 << 20, 64), skipped.Add);
            await reader.ReadHeaderAsync();
            foreach (XElement expected in stanzas)
            {
                XElement actual = (await reader.ReadElementAsync())!;
                Assert.Equal(Normalize(expected), Normalize(actual));
            }

            Assert.Empty(skipped);
            await Assert.ThrowsAsync<EndOfStreamException>(() => reader.ReadElementAsync());
        }
    }

    private static string Normalize(XElement element)
    {
        var copy = new XElement(element);
        foreach (XElement e in copy.DescendantsAndSelf().Where(e => e.Name.LocalName == "cdata"))
        {
            e.Value = e.Value.Length == 0 ? "a<b>]]>c]" : e.Value;
        }

        foreach (XElement e in copy.DescendantsAndSelf().Where(e => e.Name.LocalName == "comment"))
        {
            e.RemoveNodes();
        }

        // An empty text node serializes as <x></x> but parses back as <x/>.
        foreach (XText empty in copy.DescendantNodes().OfType<XText>().Where(t => t.Value.Length == 0).ToArray())
        {
            empty.Remove();
        }

        return copy.ToString(SaveOptions.DisableFormatting);
    }

    private static XElement RandomStanza(Random random)
    {
        XNamespace client = "jabber:client";
        var root = new XElement(client + (random.Next(3) switch { 0 => "message", 1 => "presence", _ => "iq" }));
        Fill(root, random, 0);
        return root;
    }

    private static void Fill(XElement element, Random random, int depth)
    {
        for (int i = random.Next(3); i > 0; i--)
        {
            element.SetAttributeValue("a" + i, RandomText(random));
        }

        for (int i = random.Next(depth < 6 ? 4 : 1); i > 0; i--)
        {
            switch (random.Next(5))
            {
                case 0:
                    element.Add(new XText(RandomText(random)));
                    break;
                case 1:
                    element.Add(new XElement(element.Name.Namespace + "cdata"));
                    break;
                case 2:
                    element.Add(new XElement(element.Name.Namespace + "comment"));
                    break;
                default:
                    XNamespace ns = random.Next(2) == 0 ? element.Name.Namespace : "urn:x:" + random.Next(3);
                    var child = new XElement(ns + ("c" + random.Next(4)));
                    Fill(child, random, depth + 1);
                    element.Add(child);
                    break;
            }
        }
    }

    private static string RandomText(Random random)
        => string.Concat(Enumerable.Range(0, random.Next(6)).Select(_ => random.Next(2) == 0 ? Tricky[random.Next(Tricky.Length)] : ((char)('a' + random.Next(26))).ToString()));

    /// <summary>Returns reads of random sizes (1 byte to 64) so boundaries fall anywhere, including inside UTF-8 sequences.</summary>
    private sealed class RandomChunkStream(byte[] data, Random random) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(1 + random.Next(64), buffer.Length)], cancellationToken);
    }
}
