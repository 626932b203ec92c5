using System.Buffers.Binary;
using Ipop.Xmpp.Connection;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// DNS SRV responses (from the resolver, over UDP) as <c>DnsSrvResolver.DecodeResponse</c> reads them when it looks
/// up the XMPP server. Rejection: <see cref="FormatException"/>.
/// </summary>
internal sealed class DnsSrvHarness : IHarness
{
    public string Name => "dns-srv";

    public string Description => "DNS SRV response decoder (Ipop.Xmpp/Connection/DnsSrvResolver)";

    public void Run(ReadOnlySpan<byte> input)
    {
        // The id matches the input's own, so the fuzzer is not stopped by a 1-in-65536 guess.
        ushort id = input.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(input) : (ushort)0;
        try
        {
            _ = DnsSrvResolver.DecodeResponse(input, id);
        }
        catch (FormatException)
        {
        }
    }
}
