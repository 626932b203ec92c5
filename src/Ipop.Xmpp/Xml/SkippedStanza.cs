namespace Ipop.Xmpp.Xml;

/// <summary>A stanza the reader dropped while keeping the stream: who sent it, if readable, and which limit it hit.</summary>
/// <param name="Reason">The limit or rule it broke.</param>
/// <param name="Name">The stanza's element name (<c>message</c>, <c>presence</c>, …) if its start tag could be read.</param>
/// <param name="From">Its <c>from</c> attribute if its start tag could be read.</param>
/// <param name="Bytes">Its size on the wire.</param>
/// <param name="Detail">What exactly was wrong, for the log.</param>
internal sealed record SkippedStanza(StanzaSkipReason Reason, string? Name, string? From, long Bytes, string Detail);
