using System.Buffers.Binary;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The payload of <see cref="Protocol.ContentKind.EchoRequest"/> and <see cref="Protocol.ContentKind.EchoReply"/>: the
/// requester's 8-byte id (big-endian). The reply repeats it, so the requester matches replies without keeping state on
/// the other side; both travel sealed, so only the peer can answer.
/// </summary>
internal static class EchoMessage
{
    /// <summary>The whole payload.</summary>
    public const int Length = 8;

    public static void Write(Span<byte> payload, ulong id) => BinaryPrimitives.WriteUInt64BigEndian(payload, id);

    /// <summary>False unless the payload is exactly one id.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out ulong id)
    {
        id = 0;
        if (payload.Length != Length)
        {
            return false;
        }

        id = BinaryPrimitives.ReadUInt64BigEndian(payload);
        return true;
    }
}
