using System.Buffers.Binary;

namespace Ipop.Tincan.Protocol;

/// <summary>
/// The 16-byte transport header: type (0x07), content kind, 2 reserved zero bytes, the receiver's session index
/// (4 bytes, little-endian) and the sender's counter (8 bytes, little-endian, the AEAD nonce). The whole header is
/// the AEAD associated data, so kind, index and counter are authenticated. Ciphertext and a 16-byte tag follow.
/// </summary>
internal static class TransportHeader
{
    public const int Length = 16;
    public const int TagLength = 16;

    /// <summary>Smallest valid transport datagram: header and tag (an empty keepalive).</summary>
    public const int MinimumDatagramLength = Length + TagLength;

    public static void Write(Span<byte> destination, ContentKind kind, uint receiverIndex, ulong counter)
    {
        destination[0] = (byte)MessageType.TransportData;
        destination[1] = (byte)kind;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], receiverIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], counter);
    }

    /// <summary>Parses the header of a transport datagram; <c>false</c> when it is not a well-formed one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out ContentKind kind, out uint receiverIndex, out ulong counter)
    {
        if (datagram.Length < MinimumDatagramLength || datagram[0] != (byte)MessageType.TransportData || datagram[2] != 0 || datagram[3] != 0 || datagram[1] > (byte)ContentKind.ForwardedFrame)
        {
            kind = default;
            receiverIndex = 0;
            counter = 0;
            return false;
        }

        kind = (ContentKind)datagram[1];
        receiverIndex = BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]);
        counter = BinaryPrimitives.ReadUInt64LittleEndian(datagram[8..]);
        return true;
    }
}
