using System.IO.Pipelines;
using System.Text;
using System.Xml.Linq;
using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Tests.Xml;

public sealed class XmppStreamReaderTests
{
    private const string Header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='lab.test' version='1.0'>";

    private static XmppStreamReader Reader(string text, XmppXmlLimits? limits = null)
        => new(new MemoryStream(Encoding.UTF8.GetBytes(text)), limits ?? XmppXmlLimits.Default);

    [Fact]
    public async Task Reads_header_then_stanzas_one_by_one_then_the_end_of_the_stream()
    {
        using XmppStreamReader reader = Reader(Header + " <message from='a@b/c'><body>hi &amp; bye</body></message>\n<presence/></stream:stream>");
        IReadOnlyDictionary<string, string> header = await reader.ReadHeaderAsync();
        Assert.Equal("s1", header["id"]);
        XElement? message = await reader.ReadElementAsync();
        Assert.Equal(XName.Get("message", "jabber:client"), message!.Name);
        Assert.Equal("hi & bye", message.Element(XName.Get("body", "jabber:client"))!.Value);
        XElement? presence = await reader.ReadElementAsync();
        Assert.Equal("presence", presence!.Name.LocalName);
        Assert.Null(await reader.ReadElementAsync());
    }

    [Fact]
    public async Task Stanzas_are_parsed_as_bytes_trickle_in_through_a_pipe()
    {
        var pipe = new Pipe();
        using var reader = new XmppStreamReader(pipe.Reader.AsStream(), XmppXmlLimits.Default);
        Task<XElement?> first = Task.Run(async () =>
        {
            await reader.ReadHeaderAsync();
            return await reader.ReadElementAsync();
        });
        byte[] all = Encoding.UTF8.GetBytes(Header + "<iq type='result' id='x1'><query xmlns='jabber:iq:roster'/></iq>");
        foreach (byte b in all)
        {
            await pipe.Writer.WriteAsync(new[] { b }, TestContext.Current.CancellationToken);
        }

        XElement? iq = await first.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("x1", (string?)iq!.Attribute("id"));

        // The stream is still open: the reader waits for more rather than failing.
        Task<XElement?> second = reader.ReadElementAsync();
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted);
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("<presence/>"), TestContext.Current.CancellationToken);
        Assert.Equal("presence", (await second.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken))!.Name.LocalName);
    }

    [Fact]
    public async Task A_stanza_over_the_size_limit_is_a_policy_violation_without_buffering_it()
    {
        // 10 MB of text in one stanza, generated lazily: the reader must give up after about the budget.
        var source = new GeneratedStream(Encoding.UTF8.GetBytes(Header + "<message><body>"), (byte)'x', 10 * 1024 * 1024);
        using var reader = new XmppStreamReader(source, new XmppXmlLimits(256 * 1024, 32));
        await reader.ReadHeaderAsync();
        long before = GC.GetAllocatedBytesForCurrentThread();
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadElementAsync());
        Assert.Equal("policy-violation", ex.Condition);
        Assert.True(source.Produced < 1024 * 1024, $"read {source.Produced} bytes before giving up");
    }

    [Fact]
    public async Task Nesting_deeper_than_the_limit_is_a_policy_violation()
    {
        string deep = string.Concat(Enumerable.Repeat("<a>", 40)) + string.Concat(Enumerable.Repeat("</a>", 40));
        using XmppStreamReader reader = Reader(Header + "<message>" + deep + "</message>", new XmppXmlLimits(1 << 20, 16));
        await reader.ReadHeaderAsync();
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadElementAsync());
        Assert.Equal("policy-violation", ex.Condition);
    }

    [Theory]
    [InlineData("<message><body></message>")]
    [InlineData("<message a='1' a='2'/>")]
    [InlineData("<message>&unknown;</message>")]
    [InlineData("text at stream level")]
    public async Task Malformed_xml_is_reported_as_not_well_formed(string bad)
    {
        using XmppStreamReader reader = Reader(Header + bad + "<presence/>");
        await reader.ReadHeaderAsync();
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadElementAsync());
        Assert.Equal("not-well-formed", ex.Condition);
    }

    [Fact]
    public async Task A_dtd_with_entities_is_refused()
    {
        using XmppStreamReader reader = Reader("<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY big 'xxxxxxxx'>]>" + Header[21..]);
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadHeaderAsync());
        Assert.Equal("not-well-formed", ex.Condition);
    }

    [Fact]
    public async Task A_wrong_root_element_is_an_invalid_namespace()
    {
        using XmppStreamReader reader = Reader("<html><body/></html>");
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadHeaderAsync());
        Assert.Equal("invalid-namespace", ex.Condition);
    }

    [Fact]
    public async Task A_connection_cut_in_the_middle_of_a_stanza_ends_the_stream()
    {
        using XmppStreamReader reader = Reader(Header + "<message><body>trunc");
        await reader.ReadHeaderAsync();
        await Assert.ThrowsAsync<EndOfStreamException>(() => reader.ReadElementAsync());
    }

    /// <summary>A prefix followed by <c>count</c> copies of one byte, produced on demand.</summary>
    private sealed class GeneratedStream(byte[] prefix, byte fill, long count) : Stream
    {
        public long Produced { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int size)
        {
            long total = prefix.Length + count;
            if (Produced >= total)
            {
                return 0;
            }

            int n = (int)Math.Min(size, total - Produced);
            for (int i = 0; i < n; i++)
            {
                long at = Produced + i;
                buffer[offset + i] = at < prefix.Length ? prefix[at] : fill;
            }

            Produced += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int size) => throw new NotSupportedException();
    }
}
