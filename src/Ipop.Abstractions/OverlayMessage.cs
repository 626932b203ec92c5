namespace Ipop;

/// <summary>A small controller message carried over signaling (e.g. a link offer with a descriptor).</summary>
/// <param name="Kind">Message kind, e.g. <c>link-offer</c>, <c>link-answer</c> (letters, digits, '-', at most 64).</param>
/// <param name="Body">Payload text (e.g. a <see cref="LinkDescriptor"/> as JSON); at most <see cref="MaxBodyLength"/> characters.</param>
public sealed record OverlayMessage(string Kind, string Body)
{
    /// <summary>Largest body accepted in either direction.</summary>
    public const int MaxBodyLength = 32 * 1024;
}
