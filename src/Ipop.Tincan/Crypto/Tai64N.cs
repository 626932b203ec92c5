using System.Buffers.Binary;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// TAI64N timestamps (12 bytes, big-endian seconds since 1970 offset by 2^62, then nanoseconds), as WireGuard
/// puts in its handshake initiation: a responder accepts an initiation only if its timestamp is greater than the
/// last one it accepted from that peer, so a captured initiation cannot be replayed.
/// Big-endian encoding makes byte-wise comparison equal to time comparison.
/// </summary>
internal static class Tai64N
{
    public const int Length = 12;
    private const ulong Tai64Epoch = 0x4000000000000000UL;

    public static void Write(DateTimeOffset time, Span<byte> destination)
    {
        long unixNanos = (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
        long seconds = Math.DivRem(unixNanos, 1_000_000_000, out long nanos);
        BinaryPrimitives.WriteUInt64BigEndian(destination, Tai64Epoch + (ulong)seconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)nanos);
    }

    /// <summary>Compares two encoded timestamps (negative when <paramref name="a"/> is earlier).</summary>
    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a[..Length].SequenceCompareTo(b[..Length]);

    /// <summary>Adds one nanosecond to an encoded timestamp (keeps a sender's timestamps strictly increasing).</summary>
    public static void Increment(Span<byte> timestamp)
    {
        uint nanos = BinaryPrimitives.ReadUInt32BigEndian(timestamp[8..]) + 1;
        if (nanos >= 1_000_000_000)
        {
            nanos = 0;
            BinaryPrimitives.WriteUInt64BigEndian(timestamp, BinaryPrimitives.ReadUInt64BigEndian(timestamp) + 1);
        }

        BinaryPrimitives.WriteUInt32BigEndian(timestamp[8..], nanos);
    }
}
