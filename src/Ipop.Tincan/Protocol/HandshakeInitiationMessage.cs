using System.Buffers.Binary;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Protocol;

/// <summary>
/// Handshake initiation: type (0x04), 3 reserved zero bytes, sender index (4 bytes, little-endian), then Noise IK
/// message 1 (ephemeral key 32, encrypted static key 48, encrypted TAI64N timestamp 28), then mac1 and mac2
/// (16 each, see <see cref="HandshakeMac"/>) = 148 bytes.
/// </summary>
internal static class HandshakeInitiationMessage
{
    public const int NoiseLength = NoiseIKHandshake.Message1Overhead + Tai64N.Length;
    public const int Length = 8 + NoiseLength + HandshakeMac.TrailerLength;

    /// <summary>Writes the header; the caller writes the Noise message at offset 8.</summary>
    public static void WriteHeader(Span<byte> destination, uint senderIndex)
    {
        destination[0] = (byte)MessageType.HandshakeInitiation;
        destination[1] = 0;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], senderIndex);
    }

    public static Span<byte> NoiseMessage(Span<byte> message) => message.Slice(8, NoiseLength);

    public static bool TryRead(ReadOnlySpan<byte> datagram, out uint senderIndex, out ReadOnlySpan<byte> noiseMessage)
    {
        if (datagram.Length != Length || datagram[0] != (byte)MessageType.HandshakeInitiation || datagram[1] != 0 || datagram[2] != 0 || datagram[3] != 0)
        {
            senderIndex = 0;
            noiseMessage = default;
            return false;
        }

        senderIndex = BinaryPrimitives.ReadUInt32LittleEndian(datagram[4..]);
        noiseMessage = datagram.Slice(8, NoiseLength);
        return true;
    }
}
