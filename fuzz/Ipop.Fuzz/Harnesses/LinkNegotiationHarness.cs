using System.Text;
using Ipop.Controllers.Negotiation;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// Link negotiation messages (offer, answer, request, address) as they arrive in a signaling message body. An
/// accepted message must also survive its own round trip (ToJson, then Parse). Rejection: <see cref="FormatException"/>.
/// </summary>
internal sealed class LinkNegotiationHarness : IHarness
{
    public string Name => "link-negotiation";

    public string Description => "Link negotiation message parser (Ipop.Controllers/Negotiation/LinkNegotiationMessage)";

    public void Run(ReadOnlySpan<byte> input)
    {
        LinkNegotiationMessage message;
        try
        {
            message = LinkNegotiationMessage.Parse(Encoding.UTF8.GetString(input));
        }
        catch (FormatException)
        {
            return;
        }

        // What we accepted we must be able to send back: a re-encoding the parser refuses is a finding.
        _ = LinkNegotiationMessage.Parse(message.ToJson());
    }
}
