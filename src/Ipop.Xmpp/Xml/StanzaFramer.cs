namespace Ipop.Xmpp.Xml;

/// <summary>
/// Finds the boundaries of top-level elements in an XMPP stream by scanning raw bytes, without
/// parsing names, attributes or entities: it only tracks markup (start and end tags with quoted
/// attribute values, comments, CDATA sections, processing instructions, declarations) and the element
/// depth. Framing therefore survives any content a stanza carries, well-formed or not, deep or huge:
/// the <see cref="XmppStreamReader"/> parses each framed stanza on its own, so one bad stanza costs
/// only itself. XMPP is UTF-8 (RFC 6120 §11.6), whose multi-byte sequences never contain ASCII bytes,
/// so the ASCII delimiters can be matched byte by byte.
/// </summary>
/// <remarks>
/// Depth counts open elements including the stream root: 0 before the header, 1 between stanzas,
/// 2 inside a stanza's root. At stream level only whitespace, start tags and the stream's closing tag
/// may appear (RFC 6120 §11.1 forbids comments, processing instructions and DTDs); anything else there
/// means the stream itself is broken, because only the server writes at that level.
/// </remarks>
internal sealed class StanzaFramer
{
    private readonly int _maxDepth;
    private State _state = State.Text;
    private long _depth;
    private byte _quote;
    private bool _slash;
    private int _match;
    private int _brackets;
    private bool _tooDeepReported;
    private long _position;
    private long _markupStart;

    /// <param name="maxDepth">Deepest nesting below a stanza's root element before <see cref="FrameBoundary.TooDeep"/>.</param>
    public StanzaFramer(int maxDepth)
    {
        _maxDepth = maxDepth;
    }

    private enum State
    {
        Text,
        TagOpen,
        StartTag,
        StartTagQuote,
        EndTag,
        Bang,
        Comment,
        CData,
        Declaration,
        DeclarationQuote,
        ProcessingInstruction,
    }

    /// <summary>Open elements, including the stream root.</summary>
    public long Depth => _depth;

    /// <summary>Length in bytes of the current stanza's root start tag, counted from its <c>&lt;</c>; 0 until that tag is complete.</summary>
    public long RootTagLength { get; private set; }

    /// <summary>Why the stream is broken, after <see cref="FrameBoundary.StreamBroken"/>.</summary>
    public string? Error { get; private set; }

    /// <summary>The stream error condition for <see cref="Error"/> (RFC 6120 §4.9.3).</summary>
    public string ErrorCondition { get; private set; } = "not-well-formed";

    /// <summary>True while the bytes being scanned belong to markup that started at stream level (a stanza, the header or the closing tag).</summary>
    public bool InTopLevelMarkup => _depth >= 2 || _state != State.Text;

    /// <summary>
    /// Scans <paramref name="input"/> and stops right after the first byte that completes a boundary;
    /// returns how many bytes were consumed (all of them when the boundary is <see cref="FrameBoundary.None"/>).
    /// </summary>
    public int Advance(ReadOnlySpan<byte> input, out FrameBoundary boundary)
    {
        int i = 0;
        while (i < input.Length)
        {
            switch (_state)
            {
                case State.Text when _depth >= 2:
                {
                    // Character data inside a stanza: only '<' matters.
                    int lt = input[i..].IndexOf((byte)'<');
                    if (lt < 0)
                    {
                        i = input.Length;
                        continue;
                    }

                    i += lt + 1;
                    _state = State.TagOpen;
                    continue;
                }

                case State.Text:
                {
                    byte b = input[i++];
                    if (b == (byte)'<')
                    {
                        _state = State.TagOpen;
                        _markupStart = _position + i - 1;
                        RootTagLength = 0;
                        _tooDeepReported = false;
                        return Done(i, FrameBoundary.MarkupStart, out boundary);
                    }

                    if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
                    {
                        return Broken(i, "not-well-formed", _depth == 0 ? "Character data before the stream header." : "Character data at stream level is not allowed.", out boundary);
                    }

                    continue;
                }

                case State.TagOpen:
                {
                    byte b = input[i++];
                    if (b == (byte)'/')
                    {
                        _state = State.EndTag;
                    }
                    else if (b == (byte)'?')
                    {
                        if (_depth == 1)
                        {
                            return Broken(i, "restricted-xml", "Processing instruction at stream level (RFC 6120 §11.1).", out boundary);
                        }

                        _state = State.ProcessingInstruction;
                        _match = 0;
                    }
                    else if (b == (byte)'!')
                    {
                        if (_depth < 2)
                        {
                            return Broken(i, "restricted-xml", "Comment, DTD or declaration at stream level (RFC 6120 §11.1).", out boundary);
                        }

                        _state = State.Bang;
                        _match = 0;
                    }
                    else
                    {
                        _state = State.StartTag;
                        _slash = false;
                    }

                    continue;
                }

                case State.StartTag:
                {
                    byte b = input[i++];
                    if (b is (byte)'\'' or (byte)'"')
                    {
                        _quote = b;
                        _state = State.StartTagQuote;
                        _slash = false;
                    }
                    else if (b == (byte)'>')
                    {
                        _state = State.Text;
                        if (CloseStartTag(i, out boundary))
                        {
                            return i;
                        }
                    }
                    else
                    {
                        _slash = b == (byte)'/';
                    }

                    continue;
                }

                case State.StartTagQuote:
                {
                    int q = input[i..].IndexOf(_quote);
                    if (q < 0)
                    {
                        i = input.Length;
                        continue;
                    }

                    i += q + 1;
                    _state = State.StartTag;
                    continue;
                }

                case State.EndTag:
                {
                    int gt = input[i..].IndexOf((byte)'>');
                    if (gt < 0)
                    {
                        i = input.Length;
                        continue;
                    }

                    i += gt + 1;
                    _state = State.Text;
                    _depth--;
                    if (_depth == 0)
                    {
                        return Done(i, FrameBoundary.StreamEnd, out boundary);
                    }

                    if (_depth == 1)
                    {
                        return Done(i, FrameBoundary.StanzaEnd, out boundary);
                    }

                    if (_depth < 0)
                    {
                        return Broken(i, "not-well-formed", "End tag before the stream header.", out boundary);
                    }

                    continue;
                }

                case State.Bang:
                {
                    // "<!--" opens a comment, "<![CDATA[" a CDATA section; anything else (a DOCTYPE
                    // smuggled into a stanza, a typo) is skipped as a declaration up to its closing '>'.
                    byte b = input[i++];
                    if (_match == 0 && b == (byte)'-')
                    {
                        _match = 1;
                    }
                    else if (_match == 1 && b == (byte)'-')
                    {
                        _state = State.Comment;
                        _match = 0;
                    }
                    else if (_match == 0 && b == (byte)'[')
                    {
                        _match = 10;
                    }
                    else if (_match >= 10 && b == "CDATA["u8[_match - 10])
                    {
                        _match++;
                        if (_match == 16)
                        {
                            _state = State.CData;
                            _match = 0;
                        }
                    }
                    else
                    {
                        _state = State.Declaration;
                        _brackets = _match >= 10 ? 1 : 0;
                        i--; // Re-scan this byte as part of the declaration.
                    }

                    continue;
                }

                case State.Comment:
                    i = SkipUntil(input, i, "-->"u8);
                    continue;

                case State.CData:
                    i = SkipUntil(input, i, "]]>"u8);
                    continue;

                case State.ProcessingInstruction:
                {
                    long before = _depth;
                    i = SkipUntil(input, i, "?>"u8);
                    if (_state == State.Text && before == 0)
                    {
                        // The XML declaration before the stream header.
                        return Done(i, FrameBoundary.PrologEnd, out boundary);
                    }

                    continue;
                }

                case State.Declaration:
                {
                    byte b = input[i++];
                    if (b is (byte)'\'' or (byte)'"')
                    {
                        _quote = b;
                        _state = State.DeclarationQuote;
                    }
                    else if (b == (byte)'[')
                    {
                        _brackets++;
                    }
                    else if (b == (byte)']')
                    {
                        _brackets = Math.Max(0, _brackets - 1);
                    }
                    else if (b == (byte)'>' && _brackets == 0)
                    {
                        _state = State.Text;
                    }

                    continue;
                }

                case State.DeclarationQuote:
                {
                    int q = input[i..].IndexOf(_quote);
                    if (q < 0)
                    {
                        i = input.Length;
                        continue;
                    }

                    i += q + 1;
                    _state = State.Declaration;
                    continue;
                }
            }
        }

        return Done(i, FrameBoundary.None, out boundary);
    }

    private bool CloseStartTag(int i, out FrameBoundary boundary)
    {
        long elementDepth = _depth + 1;
        if (_depth == 1)
        {
            RootTagLength = _position + i - _markupStart;
        }

        if (_slash)
        {
            if (_depth == 0)
            {
                Broken(i, "not-well-formed", "The stream header is an empty element.", out boundary);
                return true;
            }

            if (_depth == 1)
            {
                Done(i, FrameBoundary.StanzaEnd, out boundary);
                return true;
            }
        }
        else
        {
            _depth = elementDepth;
            if (_depth == 1)
            {
                Done(i, FrameBoundary.HeaderEnd, out boundary);
                return true;
            }
        }

        // The stanza's root is at depth 2, so its children are 1 deep.
        if (elementDepth - 2 > _maxDepth && !_tooDeepReported)
        {
            _tooDeepReported = true;
            Done(i, FrameBoundary.TooDeep, out boundary);
            return true;
        }

        boundary = FrameBoundary.None;
        return false;
    }

    /// <summary>Skips to just past <paramref name="terminator"/>, which may straddle reads (<see cref="_match"/> carries the partial match).</summary>
    private int SkipUntil(ReadOnlySpan<byte> input, int i, ReadOnlySpan<byte> terminator)
    {
        while (i < input.Length)
        {
            if (_match == 0)
            {
                int at = input[i..].IndexOf(terminator[0]);
                if (at < 0)
                {
                    return input.Length;
                }

                i += at + 1;
                _match = 1;
            }
            else
            {
                byte b = input[i++];
                if (b == terminator[_match])
                {
                    _match++;
                }
                else
                {
                    // Every terminator is a run of one byte and then '>', so in "--->" or "]]]>" the byte
                    // that broke the match keeps the run matched.
                    _match = b == terminator[0] ? Math.Min(_match, terminator.Length - 1) : 0;
                }
            }

            if (_match == terminator.Length)
            {
                _match = 0;
                _state = State.Text;
                return i;
            }
        }

        return i;
    }

    private int Done(int consumed, FrameBoundary kind, out FrameBoundary boundary)
    {
        _position += consumed;
        boundary = kind;
        return consumed;
    }

    private int Broken(int consumed, string condition, string error, out FrameBoundary boundary)
    {
        ErrorCondition = condition;
        Error = error;
        return Done(consumed, FrameBoundary.StreamBroken, out boundary);
    }
}
