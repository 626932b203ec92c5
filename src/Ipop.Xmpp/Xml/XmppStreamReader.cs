using System.Xml;
using System.Xml.Linq;

namespace Ipop.Xmpp.Xml;

/// <summary>
/// Incremental reader of one XMPP stream (RFC 6120 §4): the <c>&lt;stream:stream&gt;</c> header, then
/// one top-level element (stanza or nonza) at a time, built as an <see cref="XElement"/> while bytes
/// arrive. <see cref="XmlReader"/> pulls from the transport in small reads and never buffers the whole
/// stream; <see cref="StanzaBudgetStream"/> bounds each stanza's size and we bound its depth. DTDs and
/// entity declarations are refused (RFC 6120 §11.1 forbids them in XMPP).
/// </summary>
internal sealed class XmppStreamReader : IDisposable
{
    private readonly StanzaBudgetStream _budget;
    private readonly XmlReader _reader;
    private readonly XmppXmlLimits _limits;

    public XmppStreamReader(Stream transport, XmppXmlLimits limits)
    {
        _limits = limits;
        _budget = new StanzaBudgetStream(transport, limits.MaxStanzaBytes);
        _reader = XmlReader.Create(_budget, new XmlReaderSettings
        {
            Async = true,
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            CloseInput = false,
            MaxCharactersFromEntities = 0,
        });
    }

    /// <summary>Reads up to and including the stream header; returns its attributes (id, from, version).</summary>
    public async Task<IReadOnlyDictionary<string, string>> ReadHeaderAsync()
    {
        try
        {
            return await ReadHeaderCoreAsync();
        }
        catch (XmlException ex)
        {
            throw Translate(ex);
        }
    }

    /// <summary>Reads the next top-level element, or <c>null</c> when the server closed the stream (&lt;/stream:stream&gt;).</summary>
    /// <exception cref="XmppXmlException">Not well-formed, too large or too deep.</exception>
    /// <exception cref="EndOfStreamException">The transport ended without a closing tag.</exception>
    public async Task<XElement?> ReadElementAsync()
    {
        // XmlReader parses lazily (a text node's Value, attributes), so errors can surface outside Read.
        try
        {
            return await ReadElementCoreAsync();
        }
        catch (XmlException ex)
        {
            throw Translate(ex);
        }
    }

    private Exception Translate(XmlException ex)
        => _budget.EndOfStream
            ? new EndOfStreamException("The connection closed in the middle of an element.", ex)
            : new XmppXmlException("not-well-formed", $"Inbound XML is not well-formed: {ex.Message}", ex);

    private async Task<IReadOnlyDictionary<string, string>> ReadHeaderCoreAsync()
    {
        while (await ReadNodeAsync())
        {
            if (_reader.NodeType == XmlNodeType.Element)
            {
                if (_reader.LocalName != "stream" || _reader.NamespaceURI != XmppNamespaces.Streams)
                {
                    throw new XmppXmlException("invalid-namespace", $"Expected <stream:stream>, got <{_reader.Name}> in '{_reader.NamespaceURI}'.");
                }

                var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
                while (_reader.MoveToNextAttribute())
                {
                    if (_reader.Prefix != "xmlns" && _reader.Name != "xmlns")
                    {
                        attributes[_reader.LocalName] = _reader.Value;
                    }
                }

                _reader.MoveToElement();
                _budget.ResetBudget();
                return attributes;
            }
        }

        throw new EndOfStreamException("The server closed the connection before sending a stream header.");
    }

    private async Task<XElement?> ReadElementCoreAsync()
    {
        while (await ReadNodeAsync())
        {
            switch (_reader.NodeType)
            {
                case XmlNodeType.Element when _reader.Depth == 1:
                    XElement element = await ReadTreeAsync();
                    _budget.ResetBudget();
                    return element;
                case XmlNodeType.EndElement when _reader.Depth == 0:
                    return null;
                case XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    // Whitespace keepalives between stanzas (RFC 6120 §4.6.1) must not eat the budget.
                    _budget.ResetBudget();
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA:
                    throw new XmppXmlException("not-well-formed", "Character data at stream level is not allowed.");
                default:
                    break;
            }
        }

        throw new EndOfStreamException("The connection ended without a closing </stream:stream>.");
    }

    private async Task<XElement> ReadTreeAsync()
    {
        XElement root = StartElement();
        if (_reader.IsEmptyElement)
        {
            return root;
        }

        var stack = new Stack<XElement>();
        stack.Push(root);
        int baseDepth = _reader.Depth;
        while (stack.Count > 0)
        {
            if (!await ReadNodeAsync())
            {
                throw new EndOfStreamException("The connection ended in the middle of a stanza.");
            }

            switch (_reader.NodeType)
            {
                case XmlNodeType.Element:
                    if (_reader.Depth - baseDepth > _limits.MaxDepth)
                    {
                        throw new XmppXmlException("policy-violation", $"Inbound stanza nests deeper than {_limits.MaxDepth} elements.");
                    }

                    XElement child = StartElement();
                    stack.Peek().Add(child);
                    if (!_reader.IsEmptyElement)
                    {
                        stack.Push(child);
                    }

                    break;
                case XmlNodeType.EndElement:
                    stack.Pop();
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    stack.Peek().Add(new XText(_reader.Value));
                    break;
                default:
                    break;
            }
        }

        return root;
    }

    private XElement StartElement()
    {
        var element = new XElement(XName.Get(_reader.LocalName, _reader.NamespaceURI));
        while (_reader.MoveToNextAttribute())
        {
            if (_reader.Prefix == "xmlns" || _reader.Name == "xmlns")
            {
                continue;
            }

            element.SetAttributeValue(XName.Get(_reader.LocalName, _reader.NamespaceURI), _reader.Value);
        }

        _reader.MoveToElement();
        return element;
    }

    private async Task<bool> ReadNodeAsync() => await _reader.ReadAsync();

    public void Dispose() => _reader.Dispose();
}
