using System.Buffers.Binary;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Protocol;

/// <summary>
/// Handshake response: type (0x05), 3 reserved zero bytes, sender index, receiver index (the initiator's sender
/// index; both 4 bytes little-endian), then Noise IK message 2 (ephemeral key 32, tag of the empty payload 16),
/// then mac1 and mac2 (16 each, see <see cref="HandshakeMac"/>) = 92 bytes.
/// </summary>
internal static class HandshakeResponseMessage
{
    public const int NoiseLength = NoiseIKHandshake.Message2Overhead;
    public const int Length = 12 + NoiseLength + HandshakeMac.TrailerLength;

    public static void WriteHeader(Span<byte> destination, uint senderIndex, uint receiverIndex)
    {
        destination[0] = (byte)MessageType.HandshakeResponse;
        destination[1] = 0;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], senderIndex);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], receiverIndex);
    }

    public static Span<byte> NoiseMessage(Span<byte> message) => message.Slice(12, NoiseLength);

    public static bool TryRead(ReadOnlySpan<byte> datagram, out uint senderIndex, out uint receiverIndex, out ReadOnlySpan<byte> noiseMessage)
    {
        if (datagram.Length != Length || datagram[0] != (byte)MessageType.HandshakeResponse || datagram[1] != 0 || datagram[2] != 0 || datagram[3] != 0)
        {
            senderIndex = 0;
            receiverIndex = 0;
            noiseMessage = default;
            return false;
        }

        senderIndex = BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]);
        receiverIndex = BinaryPrimitives.ReadUInt32LittleEndian(datagram[8..]);
        noiseMessage = datagram.Slice(12, NoiseLength);
        return true;
    }
}
