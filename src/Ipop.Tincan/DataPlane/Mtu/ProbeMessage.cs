using System.Buffers.Binary;

namespace Ipop.Tincan.DataPlane.Mtu;

/// <summary>
/// The payloads of <see cref="Protocol.ContentKind.Probe"/> and <see cref="Protocol.ContentKind.ProbeAck"/>: a round id
/// and the size under test (big-endian), then, in a probe only, padding up to that size. Both travel sealed inside the
/// tunnel, so only the peer can send them and the padding needs no particular value.
/// </summary>
internal static class ProbeMessage
{
    /// <summary>Round id (4 bytes) and size (2 bytes): the whole acknowledgment, and the start of a probe.</summary>
    public const int HeaderLength = 6;

    /// <summary>Writes a probe of <c>payload.Length</c> bytes (at least <see cref="HeaderLength"/>).</summary>
    public static void WriteProbe(Span<byte> payload, uint roundId)
    {
        BinaryPrimitives.WriteUInt32BigEndian(payload, roundId);
        BinaryPrimitives.WriteUInt16BigEndian(payload[4..], (ushort)payload.Length);
        payload[HeaderLength..].Clear();
    }

    /// <summary>Writes the acknowledgment of a probe (<see cref="HeaderLength"/> bytes).</summary>
    public static void WriteAck(Span<byte> payload, uint roundId, int size)
    {
        BinaryPrimitives.WriteUInt32BigEndian(payload, roundId);
        BinaryPrimitives.WriteUInt16BigEndian(payload[4..], (ushort)size);
    }

    /// <summary>Reads a probe: false unless the size it names is its own length.</summary>
    public static bool TryReadProbe(ReadOnlySpan<byte> payload, out uint roundId)
    {
        roundId = 0;
        if (payload.Length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(payload[4..]) != payload.Length)
        {
            return false;
        }

        roundId = BinaryPrimitives.ReadUInt32BigEndian(payload);
        return true;
    }

    /// <summary>Reads an acknowledgment.</summary>
    public static bool TryReadAck(ReadOnlySpan<byte> payload, out uint roundId, out int size)
    {
        roundId = 0;
        size = 0;
        if (payload.Length != HeaderLength)
        {
            return false;
        }

        roundId = BinaryPrimitives.ReadUInt32BigEndian(payload);
        size = BinaryPrimitives.ReadUInt16BigEndian(payload[4..]);
        return true;
    }
}
