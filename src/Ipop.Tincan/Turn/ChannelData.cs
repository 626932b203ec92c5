using System.Buffers.Binary;

namespace Ipop.Tincan.Turn;

/// <summary>
/// ChannelData framing (RFC 8656 section 12.4): 2-byte channel number, 2-byte payload length, payload.
/// Over UDP padding to 4 bytes is optional (section 12.5): we never send it and accept up to 3 bytes of it.
/// </summary>
internal static class ChannelData
{
    public const int HeaderLength = 4;
    public const ushort MinChannel = 0x4000;
    public const ushort MaxChannel = 0x4FFF;

    public static bool IsValidChannel(ushort channel) => channel is >= MinChannel and <= MaxChannel;

    /// <summary>Writes the header in place in front of a payload that already sits at <c>buffer[4..]</c>.</summary>
    public static void WriteHeader(Span<byte> buffer, ushort channel, int payloadLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(buffer, channel);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)payloadLength);
    }

    /// <summary>Validates a received ChannelData datagram; never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out ushort channel, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        channel = 0;
        if (datagram.Length < HeaderLength)
        {
            return false;
        }

        channel = BinaryPrimitives.ReadUInt16BigEndian(datagram);
        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        int available = datagram.Length - HeaderLength;
        if (!IsValidChannel(channel) || length > available || available - length > 3)
        {
            return false;
        }

        payload = datagram.Slice(HeaderLength, length);
        return true;
    }
}
