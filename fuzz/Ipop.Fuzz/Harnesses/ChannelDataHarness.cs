using Ipop.Tincan.Turn;

namespace Ipop.Fuzz.Harnesses;

/// <summary>TURN ChannelData framing (RFC 8656 section 12.4) as relayed datagrams arrive. Rejection: false.</summary>
internal sealed class ChannelDataHarness : IHarness
{
    public string Name => "channel-data";

    public string Description => "TURN ChannelData parser (Ipop.Tincan/Turn/ChannelData)";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (ChannelData.TryParse(input, out ushort channel, out ReadOnlySpan<byte> payload))
        {
            // The payload must lie inside the datagram, after the 4-byte header, on a valid channel.
            if (!ChannelData.IsValidChannel(channel) || payload.Length > input.Length - ChannelData.HeaderLength)
            {
                throw new InvalidOperationException($"ChannelData accepted channel {channel:x4} with {payload.Length} payload bytes of {input.Length}.");
            }
        }
    }
}
