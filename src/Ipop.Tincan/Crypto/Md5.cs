using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// MD5 (RFC 1321), managed and allocation-free. Only for the STUN long-term credential key (RFC 8489 section 9.2.2,
/// MD5 being the password algorithm every TURN server supports): libsodium has no MD5, and .NET's goes through
/// OpenSSL (see <see cref="Sodium"/>). Computed once per TURN server, never per packet.
/// </summary>
internal static class Md5
{
    /// <summary>Length of a digest.</summary>
    public const int HashLength = 16;

    private const int BlockLength = 64;

    // RFC 1321 section 3.4: T[i] = floor(2^32 * abs(sin(i + 1))).
    private static ReadOnlySpan<uint> T =>
    [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ];

    // The per-step rotations of the four rounds.
    private static ReadOnlySpan<byte> S =>
    [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];

    /// <summary>Writes MD5(<paramref name="data"/>) to the first 16 bytes of <paramref name="destination"/>.</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, HashLength, nameof(destination));
        Span<uint> state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
        ulong bits = (ulong)data.Length * 8;
        while (data.Length >= BlockLength)
        {
            Compress(state, data[..BlockLength]);
            data = data[BlockLength..];
        }

        // Section 3.1-3.2: a 1 bit, zeros to 56 bytes mod 64, then the bit length, little-endian.
        Span<byte> tail = stackalloc byte[2 * BlockLength];
        tail.Clear();
        data.CopyTo(tail);
        tail[data.Length] = 0x80;
        int length = data.Length + 1 + sizeof(ulong) <= BlockLength ? BlockLength : 2 * BlockLength;
        BinaryPrimitives.WriteUInt64LittleEndian(tail[(length - sizeof(ulong))..], bits);
        Compress(state, tail[..BlockLength]);
        if (length > BlockLength)
        {
            Compress(state, tail[BlockLength..]);
        }

        for (int i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(4 * i)..], state[i]);
        }

        CryptographicOperations.ZeroMemory(tail);
    }

    // Section 3.4: four rounds of 16 steps over the block's sixteen little-endian words.
    private static void Compress(Span<uint> state, ReadOnlySpan<byte> block)
    {
        uint a = state[0], b = state[1], c = state[2], d = state[3];
        for (int i = 0; i < 64; i++)
        {
            uint f;
            int g;
            if (i < 16)
            {
                f = (b & c) | (~b & d);
                g = i;
            }
            else if (i < 32)
            {
                f = (d & b) | (~d & c);
                g = ((5 * i) + 1) & 15;
            }
            else if (i < 48)
            {
                f = b ^ c ^ d;
                g = ((3 * i) + 5) & 15;
            }
            else
            {
                f = c ^ (b | ~d);
                g = (7 * i) & 15;
            }

            f += a + T[i] + BinaryPrimitives.ReadUInt32LittleEndian(block[(4 * g)..]);
            a = d;
            d = c;
            c = b;
            b += BitOperations.RotateLeft(f, S[i]);
        }

        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
    }
}
