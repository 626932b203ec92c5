using System.Text;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// Link descriptors (a peer's key, ICE credentials and candidates) as JSON from a peer or the controller API. An
/// accepted descriptor must survive its own round trip. Rejection: <see cref="FormatException"/>.
/// </summary>
internal sealed class LinkDescriptorHarness : IHarness
{
    public string Name => "link-descriptor";

    public string Description => "Link descriptor JSON parser (Ipop.Abstractions/LinkDescriptor)";

    public void Run(ReadOnlySpan<byte> input)
    {
        LinkDescriptor descriptor;
        try
        {
            descriptor = LinkDescriptor.Parse(Encoding.UTF8.GetString(input));
        }
        catch (FormatException)
        {
            return;
        }

        _ = LinkDescriptor.Parse(descriptor.ToJson());
    }
}
