using System.Xml;
using System.Xml.Linq;

namespace Ipop.Xmpp.Xml;

/// <summary>
/// Incremental reader of one XMPP stream (RFC 6120 §4): the <c>&lt;stream:stream&gt;</c> header, then
/// one top-level element (stanza or nonza) at a time. A <see cref="StanzaFramer"/> finds each stanza's
/// end in the raw bytes; only then is the stanza parsed, by an <see cref="XmlReader"/> of its own,
/// inside a copy of the header so it sees the stream's namespace declarations.
/// </summary>
/// <remarks>
/// One XmlReader over the whole stream cannot survive a bad stanza: after its first error it is
/// unusable, and depth or size limits can only be enforced by throwing. With framing separate from
/// parsing, a stanza the server relays from any account (nested 1,000 deep, a megabyte long, an
/// undefined entity, an unbound prefix) is dropped, reported through the skip callback and followed
/// by the next one. Over-deep and oversized stanzas are not buffered past the limit: the framer
/// counts their depth and bytes until they end. The stream ends only when the transport ends, the
/// server closes it, or markup at stream level (which only the server writes) breaks framing. DTDs
/// and entity declarations are refused (RFC 6120 §11.1).
/// </remarks>
internal sealed class XmppStreamReader : IDisposable
{
    private const int ReadSize = 16 * 1024;
    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];
    private static readonly System.Buffers.SearchValues<byte> NameEnd = System.Buffers.SearchValues.Create(" \t\r\n/>"u8);

    private readonly Stream _transport;
    private readonly XmppXmlLimits _limits;
    private readonly Action<SkippedStanza>? _onSkipped;
    private readonly StanzaFramer _framer;
    private readonly XmlReaderSettings _settings;
    private readonly byte[] _input;
    private bool _captureIsHeader;
    private int _inputStart;
    private int _inputEnd;
    private bool _started;

    // The stanza being captured: a copy of the header's start tag, then the stanza's bytes, then a
    // closing tag for the header, so the stanza parses as the one child of a stream root.
    private byte[] _capture = new byte[4096];
    private int _captureLength;
    private bool _capturing;
    private long _stanzaBytes;
    private SkippedStanza? _skipping;
    private byte[] _headerTag = [];
    private byte[] _headerClose = [];

    /// <param name="transport">The bytes of the stream.</param>
    /// <param name="limits">Size and depth bounds per stanza.</param>
    /// <param name="onSkipped">Told about every stanza dropped while the stream goes on.</param>
    public XmppStreamReader(Stream transport, XmppXmlLimits limits, Action<SkippedStanza>? onSkipped = null)
    {
        _transport = transport;
        _limits = limits;
        _onSkipped = onSkipped;
        _framer = new StanzaFramer(limits.MaxDepth);
        _input = new byte[ReadSize];
        _settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            MaxCharactersFromEntities = 0,
            NameTable = new NameTable(),
        };
    }

    /// <summary>Stanzas dropped so far on this stream.</summary>
    public long Skipped { get; private set; }

    /// <summary>Reads up to and including the stream header; returns its attributes (id, from, version).</summary>
    /// <exception cref="XmppXmlException">The header is missing, malformed or not a stream.</exception>
    /// <exception cref="EndOfStreamException">The transport ended first.</exception>
    public async Task<IReadOnlyDictionary<string, string>> ReadHeaderAsync()
    {
        while (true)
        {
            FrameBoundary boundary = await NextBoundaryAsync(headerExpected: true);
            if (boundary == FrameBoundary.HeaderEnd)
            {
                return ParseHeader();
            }
        }
    }

    /// <summary>Reads the next top-level element, or <c>null</c> when the server closed the stream (&lt;/stream:stream&gt;).</summary>
    /// <exception cref="XmppXmlException">The stream itself is broken (markup or text at stream level).</exception>
    /// <exception cref="EndOfStreamException">The transport ended without a closing tag.</exception>
    public async Task<XElement?> ReadElementAsync()
    {
        while (true)
        {
            FrameBoundary boundary = await NextBoundaryAsync(headerExpected: false);
            switch (boundary)
            {
                case FrameBoundary.StreamEnd:
                    return null;
                case FrameBoundary.StanzaEnd when _skipping is { } skipped:
                    Skip(skipped with { Bytes = _stanzaBytes });
                    break;
                case FrameBoundary.StanzaEnd:
                    XElement? element = ParseStanza();
                    if (element is not null)
                    {
                        return element;
                    }

                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>Feeds bytes to the framer, capturing top-level markup, until it reports a boundary the callers act on.</summary>
    private async ValueTask<FrameBoundary> NextBoundaryAsync(bool headerExpected)
    {
        while (true)
        {
            if (_inputStart == _inputEnd)
            {
                _inputStart = 0;
                _inputEnd = await _transport.ReadAsync(_input.AsMemory(0, ReadSize));
                if (_inputEnd == 0)
                {
                    throw new EndOfStreamException(
                        _framer.Depth == 0 && !_capturing ? "The server closed the connection before sending a stream header."
                        : _framer.InTopLevelMarkup ? "The connection closed in the middle of an element."
                        : "The connection ended without a closing </stream:stream>.");
                }

                if (!_started)
                {
                    _started = true;
                    if (_input.AsSpan(0, _inputEnd).StartsWith(Bom))
                    {
                        _inputStart = Bom.Length;
                    }
                }
            }

            ReadOnlySpan<byte> span = _input.AsSpan(_inputStart, _inputEnd - _inputStart);
            int consumed = _framer.Advance(span, out FrameBoundary boundary);
            _inputStart += consumed;
            if (_capturing || _skipping is not null)
            {
                Capture(span[..consumed]);
            }

            switch (boundary)
            {
                case FrameBoundary.None:
                    continue;
                case FrameBoundary.MarkupStart:
                    BeginCapture(headerExpected);
                    Capture(span.Slice(consumed - 1, 1));
                    continue;
                case FrameBoundary.PrologEnd:
                    _capturing = false;
                    continue;
                case FrameBoundary.HeaderEnd when !headerExpected:
                    throw new XmppXmlException("not-well-formed", "A second stream header in one stream.");
                case FrameBoundary.StanzaEnd when headerExpected:
                    throw new XmppXmlException("not-well-formed", "An element before the stream header.");
                case FrameBoundary.TooDeep:
                    StartSkipping(StanzaSkipReason.TooDeep, $"nested deeper than {_limits.MaxDepth} elements");
                    continue;
                case FrameBoundary.StreamBroken:
                    throw new XmppXmlException(_framer.ErrorCondition, _framer.Error!);
                default:
                    _capturing = false;
                    return boundary;
            }
        }
    }

    private void BeginCapture(bool header)
    {
        _skipping = null;
        _stanzaBytes = 0;
        _capturing = true;
        _captureIsHeader = header;
        _captureLength = 0;
        if (!header)
        {
            Append(_headerTag);
        }
    }

    private void Capture(ReadOnlySpan<byte> bytes)
    {
        _stanzaBytes += bytes.Length;
        if (!_capturing)
        {
            return;
        }

        if (_stanzaBytes > _limits.MaxStanzaBytes)
        {
            if (_captureIsHeader)
            {
                throw new XmppXmlException("policy-violation", $"The stream header exceeds the limit of {_limits.MaxStanzaBytes} bytes.");
            }

            StartSkipping(StanzaSkipReason.TooLarge, $"larger than the limit of {_limits.MaxStanzaBytes} bytes");
            return;
        }

        Append(bytes);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_captureLength + bytes.Length > _capture.Length)
        {
            // Doubling, but never past what the largest acceptable stanza needs in its wrapper.
            int largest = _headerTag.Length + _limits.MaxStanzaBytes + _headerClose.Length;
            Array.Resize(ref _capture, Math.Max(Math.Min(_capture.Length * 2, largest), _captureLength + bytes.Length));
        }

        bytes.CopyTo(_capture.AsSpan(_captureLength));
        _captureLength += bytes.Length;
    }

    /// <summary>Stops buffering the current stanza; the framer keeps counting until it ends.</summary>
    private void StartSkipping(StanzaSkipReason reason, string detail)
    {
        if (_skipping is not null)
        {
            return;
        }

        (string? name, string? from) = ReadRootTag();
        _skipping = new SkippedStanza(reason, name, from, 0, detail);
        _capturing = false;
        _captureLength = 0;

        // A megabyte stanza must not leave a megabyte buffer behind for the life of the stream.
        if (_capture.Length > 64 * 1024)
        {
            _capture = new byte[4096];
        }
    }

    private void Skip(SkippedStanza skipped)
    {
        _skipping = null;
        Skipped++;
        _onSkipped?.Invoke(skipped);
    }

    private Dictionary<string, string> ParseHeader()
    {
        ReadOnlySpan<byte> tag = _capture.AsSpan(0, _captureLength);
        int nameEnd = tag[1..].IndexOfAny(NameEnd) + 1;
        _headerTag = tag.ToArray();
        _headerClose = [.. "</"u8, .. tag[1..nameEnd], .. ">"u8];
        Append(_headerClose);
        try
        {
            using XmlReader reader = XmlReader.Create(new MemoryStream(_capture, 0, _captureLength, writable: false), _settings);
            reader.MoveToContent();
            if (reader.LocalName != "stream" || reader.NamespaceURI != XmppNamespaces.Streams)
            {
                throw new XmppXmlException("invalid-namespace", $"Expected <stream:stream>, got <{reader.Name}> in '{reader.NamespaceURI}'.");
            }

            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            while (reader.MoveToNextAttribute())
            {
                if (reader.Prefix != "xmlns" && reader.Name != "xmlns")
                {
                    attributes[reader.LocalName] = reader.Value;
                }
            }

            return attributes;
        }
        catch (XmlException ex)
        {
            throw new XmppXmlException("not-well-formed", $"The stream header is not well-formed: {ex.Message}", ex);
        }
    }

    /// <summary>Parses the captured stanza; a malformed one is reported as skipped and yields null.</summary>
    private XElement? ParseStanza()
    {
        Append(_headerClose);
        try
        {
            using XmlReader reader = XmlReader.Create(new MemoryStream(_capture, 0, _captureLength, writable: false), _settings);
            reader.MoveToContent();
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element)
                {
                    XElement stanza = ReadTree(reader);

                    // What follows must be our synthetic closing tag: the parser and the framer agree on where the stanza ends.
                    if (!reader.Read() || reader.NodeType != XmlNodeType.EndElement || reader.Depth != 0)
                    {
                        throw new XmlException("The stanza's markup does not end where its element ends.");
                    }

                    return stanza;
                }
            }

            throw new XmlException("No element in the stanza.");
        }
        catch (XmlException ex)
        {
            (string? name, string? from) = ReadRootTag();
            Skip(new SkippedStanza(StanzaSkipReason.Malformed, name, from, _stanzaBytes, ex.Message));
            return null;
        }
    }

    /// <summary>The name and 'from' of the current stanza, from its root start tag alone, if that much is captured and parses.</summary>
    private (string? Name, string? From) ReadRootTag()
    {
        int start = _headerTag.Length;
        long length = _framer.RootTagLength;
        if (length < 2 || start + length > _captureLength)
        {
            return (null, null);
        }

        // "<message a='1'>" becomes "<message a='1'/>" inside the header, closed.
        ReadOnlySpan<byte> tag = _capture.AsSpan(start, (int)length);
        bool empty = tag[^2] == (byte)'/';
        byte[] document = [.. _headerTag, .. tag[..^1], .. (empty ? ">"u8 : "/>"u8), .. _headerClose];
        try
        {
            using XmlReader reader = XmlReader.Create(new MemoryStream(document, writable: false), _settings);
            reader.MoveToContent();
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element)
                {
                    string? from = reader.GetAttribute("from");
                    return (reader.LocalName, from is { Length: > 3071 } ? from[..3071] : from);
                }
            }
        }
        catch (XmlException)
        {
            // Even the start tag is broken: the skip is logged without a sender.
        }

        return (null, null);
    }

    /// <summary>Builds the element the reader is positioned on, and everything inside it.</summary>
    private static XElement ReadTree(XmlReader reader)
    {
        XElement root = StartElement(reader);
        if (reader.IsEmptyElement)
        {
            return root;
        }

        var stack = new Stack<XElement>();
        stack.Push(root);
        while (stack.Count > 0 && reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    XElement child = StartElement(reader);
                    stack.Peek().Add(child);
                    if (!reader.IsEmptyElement)
                    {
                        stack.Push(child);
                    }

                    break;
                case XmlNodeType.EndElement:
                    stack.Pop();
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    stack.Peek().Add(new XText(reader.Value));
                    break;
                default:
                    break;
            }
        }

        if (stack.Count > 0)
        {
            throw new XmlException("The stanza ends inside an element.");
        }

        return root;
    }

    private static XElement StartElement(XmlReader reader)
    {
        var element = new XElement(XName.Get(reader.LocalName, reader.NamespaceURI));
        while (reader.MoveToNextAttribute())
        {
            if (reader.Prefix == "xmlns" || reader.Name == "xmlns")
            {
                continue;
            }

            element.SetAttributeValue(XName.Get(reader.LocalName, reader.NamespaceURI), reader.Value);
        }

        reader.MoveToElement();
        return element;
    }

    /// <summary>Nothing to release (buffers are managed); kept so owners can scope a reader with <c>using</c>.</summary>
    public void Dispose()
    {
    }
}
