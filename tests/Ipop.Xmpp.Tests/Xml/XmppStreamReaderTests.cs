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
    public async Task A_ten_megabyte_stanza_is_skipped_without_buffering_it_and_the_next_stanza_is_read()
    {
        // 10 MB of text in one stanza, generated lazily: the reader must not keep more than about the limit.
        byte[] prefix = Encoding.UTF8.GetBytes(Header + "<message from='big@lab.test/r'><body>");
        byte[] suffix = Encoding.UTF8.GetBytes("</body></message><presence from='ok@lab.test/r'/>");
        var source = new GeneratedStream(prefix, (byte)'x', 10 * 1024 * 1024, suffix);
        var skipped = new List<SkippedStanza>();
        using var reader = new XmppStreamReader(source, new XmppXmlLimits(256 * 1024, 32), skipped.Add);
        await reader.ReadHeaderAsync();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        XElement? next = await reader.ReadElementAsync();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Current.SendDiagnosticMessage($"skipped a 10 MiB stanza in {clock.Elapsed.TotalMilliseconds:0} ms, allocating {allocated / 1024} KiB");

        Assert.Equal("presence", next!.Name.LocalName);
        SkippedStanza skip = Assert.Single(skipped);
        Assert.Equal(StanzaSkipReason.TooLarge, skip.Reason);
        Assert.Equal("message", skip.Name);
        Assert.Equal("big@lab.test/r", skip.From);
        Assert.Equal(prefix.Length - Header.Length + (10 * 1024 * 1024) + "</body></message>".Length, skip.Bytes);
        Assert.True(allocated < 2 * 1024 * 1024, $"allocated {allocated} bytes while skipping 10 MB");
    }

    [Theory]
    [InlineData(40)]
    [InlineData(1000)]
    public async Task A_stanza_nested_deeper_than_the_limit_is_skipped_and_the_stream_goes_on(int depth)
    {
        string deep = string.Concat(Enumerable.Repeat("<a>", depth)) + string.Concat(Enumerable.Repeat("</a>", depth));
        var skipped = new List<SkippedStanza>();
        using var reader = new XmppStreamReader(Stream(Header + "<message from='deep@lab.test/x' type='chat'><body>" + deep + "</body></message><message from='ok@lab.test/r'><body>next</body></message>"), XmppXmlLimits.Default, skipped.Add);
        await reader.ReadHeaderAsync();
        XElement? next = await reader.ReadElementAsync();
        Assert.Equal("next", next!.Value);
        SkippedStanza skip = Assert.Single(skipped);
        Assert.Equal(StanzaSkipReason.TooDeep, skip.Reason);
        Assert.Equal("deep@lab.test/x", skip.From);
        Assert.Contains("32", skip.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nesting_exactly_at_the_limit_is_accepted()
    {
        // The root's children are 1 deep; 32 levels below the root are allowed, 33 are not.
        string Nest(int n) => string.Concat(Enumerable.Repeat("<a>", n)) + string.Concat(Enumerable.Repeat("</a>", n));
        var skipped = new List<SkippedStanza>();
        using var reader = new XmppStreamReader(Stream(Header + "<message id='ok'>" + Nest(32) + "</message><message id='over'>" + Nest(33) + "</message><presence/>"), XmppXmlLimits.Default, skipped.Add);
        await reader.ReadHeaderAsync();
        Assert.Equal("ok", (string?)(await reader.ReadElementAsync())!.Attribute("id"));
        Assert.Equal("presence", (await reader.ReadElementAsync())!.Name.LocalName);
        Assert.Equal(StanzaSkipReason.TooDeep, Assert.Single(skipped).Reason);
    }

    [Theory]
    [InlineData("<message from='m@lab.test/r' a='1' a='2'/>")]
    [InlineData("<message from='m@lab.test/r'>&unknown;</message>")]
    [InlineData("<message from='m@lab.test/r'><body>x</wrong></message>")]
    [InlineData("<message from='m@lab.test/r'><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]><body>&lol2;</body></message>")]
    [InlineData("<message from='m@lab.test/r'><body>&#0;</body></message>")]
    [InlineData("<message from='m@lab.test/r'><p:x/></message>")]
    [InlineData("<message from='m@lab.test/r' xmlns:p=''><p:x/></message>")]
    [InlineData("<message from='m@lab.test/r' xmlns:xml='urn:evil'/>")]
    [InlineData("<message from='m@lab.test/r' xmlns:xmlns='urn:evil'/>")]
    [InlineData("<message from='m@lab.test/r' xmlns:p='urn:p' xmlns:q='urn:p' p:a='1' q:a='2'/>")]
    [InlineData("<message from='m@lab.test/r'><body a=unquoted>x</body></message>")]
    [InlineData("<message from='m@lab.test/r'><body>\\xC3\\x28</body></message>")]
    public async Task A_malformed_stanza_is_skipped_with_its_sender_and_the_stream_goes_on(string bad)
    {
        var skipped = new List<SkippedStanza>();
        using var reader = new XmppStreamReader(Stream(Header + bad + "<presence from='ok@lab.test/r'/>"), XmppXmlLimits.Default, skipped.Add);
        await reader.ReadHeaderAsync();
        XElement? next = await reader.ReadElementAsync();
        Assert.Equal("ok@lab.test/r", (string?)next!.Attribute("from"));
        SkippedStanza skip = Assert.Single(skipped);
        Assert.Equal(StanzaSkipReason.Malformed, skip.Reason);
        Assert.Equal(1, reader.Skipped);
        if (!bad.Contains("xmlns:", StringComparison.Ordinal) && !bad.Contains("a='2'", StringComparison.Ordinal))
        {
            // Only a broken start tag hides the sender.
            Assert.Equal("m@lab.test/r", skip.From);
        }
    }

    [Fact]
    public async Task Namespace_games_inside_a_stanza_stay_inside_that_stanza()
    {
        // A relayed stanza that declares the streams namespace or rebinds the stream prefix is an
        // ordinary element; only a top-level <stream:error> is one.
        using XmppStreamReader reader = Reader(Header
            + "<message from='a@lab.test/r' xmlns:stream='urn:evil'><stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></message>"
            + "<message from='a@lab.test/r'><error xmlns='http://etherx.jabber.org/streams'/></message>"
            + "<x:message xmlns:x='jabber:client' from='a@lab.test/r'/>");
        await reader.ReadHeaderAsync();
        XElement first = (await reader.ReadElementAsync())!;
        Assert.Equal(XName.Get("message", "jabber:client"), first.Name);
        Assert.Equal(XName.Get("error", "urn:evil"), first.Elements().Single().Name);
        XElement second = (await reader.ReadElementAsync())!;
        Assert.Equal(XName.Get("error", XmppNamespaces.Streams), second.Elements().Single().Name);
        Assert.Equal(XName.Get("message", "jabber:client"), (await reader.ReadElementAsync())!.Name);
    }

    [Fact]
    public async Task Markup_characters_in_cdata_comments_and_attribute_values_do_not_move_stanza_boundaries()
    {
        const string Tricky = "<message id='a>b/>c' from=\"x'y@lab.test/r\"><body><![CDATA[</message><presence/>]]]]><![CDATA[>]]></body><!-- </message> --><?pi </message>?></message><presence id='after'/>";
        foreach (int chunk in new[] { 1, 2, 3, 7, 4096 })
        {
            using var reader = new XmppStreamReader(new ChunkedStream(Encoding.UTF8.GetBytes(Header + Tricky), chunk), XmppXmlLimits.Default);
            await reader.ReadHeaderAsync();
            XElement message = (await reader.ReadElementAsync())!;
            Assert.Equal("a>b/>c", (string?)message.Attribute("id"));
            Assert.Equal("x'y@lab.test/r", (string?)message.Attribute("from"));
            Assert.Equal("</message><presence/>]]>", message.Value);
            Assert.Equal("after", (string?)(await reader.ReadElementAsync())!.Attribute("id"));
        }
    }

    [Fact]
    public async Task An_unclosed_stanza_swallows_the_rest_of_the_stream_and_ends_with_the_connection()
    {
        // Framing cannot be recovered from a stanza that never closes; only a broken server can send
        // one (servers re-serialize what they relay), and the keepalive catches the silence.
        var skipped = new List<SkippedStanza>();
        using var reader = new XmppStreamReader(Stream(Header + "<message><body><presence/><iq type='result' id='ping1'/>"), XmppXmlLimits.Default, skipped.Add);
        await reader.ReadHeaderAsync();
        EndOfStreamException ex = await Assert.ThrowsAsync<EndOfStreamException>(() => reader.ReadElementAsync());
        Assert.Contains("middle of an element", ex.Message, StringComparison.Ordinal);
        Assert.Empty(skipped);
    }

    [Theory]
    [InlineData("text at stream level", "not-well-formed")]
    [InlineData("<!-- comment -->", "restricted-xml")]
    [InlineData("<?pi x?>", "restricted-xml")]
    [InlineData("<!DOCTYPE x>", "restricted-xml")]
    public async Task Anything_but_stanzas_and_whitespace_at_stream_level_breaks_the_stream(string bad, string condition)
    {
        using XmppStreamReader reader = Reader(Header + " \n" + bad + "<presence/>");
        await reader.ReadHeaderAsync();
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadElementAsync());
        Assert.Equal(condition, ex.Condition);
    }

    [Fact]
    public async Task A_dtd_with_entities_is_refused()
    {
        using XmppStreamReader reader = Reader("<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY big 'xxxxxxxx'>]>" + Header[21..]);
        XmppXmlException ex = await Assert.ThrowsAsync<XmppXmlException>(() => reader.ReadHeaderAsync());
        Assert.Equal("restricted-xml", ex.Condition);
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

    private static MemoryStream Stream(string text) => new(Latin1Escapes(text));

    // Test strings write raw bytes as \xNN (for invalid UTF-8); everything else is UTF-8.
    private static byte[] Latin1Escapes(string text)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && text[i + 1] == 'x')
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 2, 2), 16));
                i += 3;
                continue;
            }

            bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
        }

        return [.. bytes];
    }

    /// <summary>Hands out at most <c>chunk</c> bytes per read, so every boundary falls between reads somewhere.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
    }

    /// <summary>A prefix, <c>count</c> copies of one byte, then a suffix, produced on demand (reads complete synchronously, so allocations stay on the test's thread).</summary>
    private sealed class GeneratedStream(byte[] prefix, byte fill, long count, byte[]? suffix = null) : Stream
    {
        private readonly byte[] _suffix = suffix ?? [];

        public long Produced { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int size) => Read(buffer.AsSpan(offset, size));

        public override int Read(Span<byte> buffer)
        {
            long total = prefix.Length + count + _suffix.Length;
            if (Produced >= total)
            {
                return 0;
            }

            int n = (int)Math.Min(buffer.Length, total - Produced);
            for (int i = 0; i < n; i++)
            {
                long at = Produced + i;
                buffer[i] = at < prefix.Length ? prefix[at] : at < prefix.Length + count ? fill : _suffix[at - prefix.Length - count];
            }

            Produced += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int size) => throw new NotSupportedException();
    }
}
