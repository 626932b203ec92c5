using System.Text;
using System.Xml.Linq;
using BenchmarkDotNet.Attributes;
using Ipop.Xmpp.Xml;

namespace Ipop.Benchmarks;

/// <summary>
/// Inbound stanza parsing (incremental XmlReader → XElement) by payload size: time and allocations per
/// stanza. A stream of 16 Ipop messages is parsed per operation to amortise the stream header.
/// Run: dotnet run -c Release --project benchmarks/Ipop.Benchmarks -- --filter '*XmppParsing*'
/// </summary>
[MemoryDiagnoser]
public class XmppParsingBenchmarks
{
    private const int StanzasPerStream = 16;
    private byte[] _stream = [];

    /// <summary>Characters in each message's Ipop payload.</summary>
    [Params(64, 1024, 16 * 1024, 32 * 1024)]
    public int BodyLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var xml = new StringBuilder("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='b' from='lab.test' version='1.0'>");
        string body = new('x', BodyLength);
        for (int i = 0; i < StanzasPerStream; i++)
        {
            xml.Append("<message type='normal' from='bob@lab.test/ipop-1' to='alice@lab.test/ipop-2' id='m").Append(i)
               .Append("'><ipop xmlns='urn:ipop:signaling:1' kind='link-offer'>").Append(body).Append("</ipop></message>");
        }

        _stream = Encoding.UTF8.GetBytes(xml.ToString());
    }

    [Benchmark]
    public async Task<int> ParseMessages()
    {
        using var reader = new XmppStreamReader(new MemoryStream(_stream, writable: false), XmppXmlLimits.Default);
        await reader.ReadHeaderAsync();
        int total = 0;
        for (int i = 0; i < StanzasPerStream; i++)
        {
            XElement stanza = (await reader.ReadElementAsync())!;
            total += stanza.Element(XName.Get("ipop", XmppNamespaces.Ipop))!.Value.Length;
        }

        return total;
    }
}
