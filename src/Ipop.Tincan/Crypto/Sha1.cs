using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// SHA-1 (FIPS 180-4 section 6.1), managed and allocation-free. Only for what the STUN and TURN protocols fix to it
/// (MESSAGE-INTEGRITY, RFC 8489 section 14.5; TURN REST credentials): libsodium has no SHA-1, and .NET's goes
/// through OpenSSL (see <see cref="Sodium"/>). It runs on control paths (checks, TURN), not per data packet.
/// </summary>
/// <remarks>Incremental: <see cref="Append"/> any number of parts, then <see cref="Finish"/>, which wipes the state.</remarks>
internal ref struct Sha1
{
    /// <summary>Length of a digest.</summary>
    public const int HashLength = 20;

    /// <summary>Length of a block (also HMAC's key block).</summary>
    public const int BlockLength = 64;

    private readonly Span<byte> _block;
    private uint _h0;
    private uint _h1;
    private uint _h2;
    private uint _h3;
    private uint _h4;
    private ulong _length;
    private int _buffered;

    /// <summary>Starts a digest; <paramref name="block"/> (at least 64 bytes, e.g. stackalloc) holds a partial block.</summary>
    public Sha1(Span<byte> block)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(block.Length, BlockLength, nameof(block));
        _block = block[..BlockLength];
        _h0 = 0x67452301;
        _h1 = 0xEFCDAB89;
        _h2 = 0x98BADCFE;
        _h3 = 0x10325476;
        _h4 = 0xC3D2E1F0;
    }

    /// <summary>Writes SHA-1(<paramref name="data"/>) to the first 20 bytes of <paramref name="destination"/>.</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var sha1 = new Sha1(stackalloc byte[BlockLength]);
        sha1.Append(data);
        sha1.Finish(destination);
    }

    /// <summary>Adds <paramref name="data"/> to the message.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _length += (ulong)data.Length;
        if (_buffered > 0)
        {
            int take = Math.Min(BlockLength - _buffered, data.Length);
            data[..take].CopyTo(_block[_buffered..]);
            _buffered += take;
            data = data[take..];
            if (_buffered < BlockLength)
            {
                return;
            }

            Compress(_block);
            _buffered = 0;
        }

        while (data.Length >= BlockLength)
        {
            Compress(data[..BlockLength]);
            data = data[BlockLength..];
        }

        data.CopyTo(_block);
        _buffered = data.Length;
    }

    /// <summary>Pads (section 5.1.1), writes the digest to the first 20 bytes of <paramref name="destination"/> and wipes the state.</summary>
    public void Finish(Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, HashLength, nameof(destination));
        ulong bits = _length * 8;
        _block[_buffered++] = 0x80;
        if (_buffered > BlockLength - sizeof(ulong))
        {
            _block[_buffered..].Clear();
            Compress(_block);
            _buffered = 0;
        }

        _block[_buffered..^sizeof(ulong)].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(_block[^sizeof(ulong)..], bits);
        Compress(_block);
        BinaryPrimitives.WriteUInt32BigEndian(destination, _h0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], _h1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], _h2);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], _h3);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], _h4);
        CryptographicOperations.ZeroMemory(_block);
        this = default;
    }

    // Section 6.1.2, with the 80-word schedule.
    private void Compress(ReadOnlySpan<byte> block)
    {
        Span<uint> w = stackalloc uint[80];
        for (int t = 0; t < 16; t++)
        {
            w[t] = BinaryPrimitives.ReadUInt32BigEndian(block[(4 * t)..]);
        }

        for (int t = 16; t < 80; t++)
        {
            w[t] = BitOperations.RotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        }

        uint a = _h0, b = _h1, c = _h2, d = _h3, e = _h4;
        for (int t = 0; t < 80; t++)
        {
            uint f, k;
            if (t < 20)
            {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            }
            else if (t < 40)
            {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            }
            else if (t < 60)
            {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            }
            else
            {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }

            uint temp = BitOperations.RotateLeft(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = BitOperations.RotateLeft(b, 30);
            b = a;
            a = temp;
        }

        _h0 += a;
        _h1 += b;
        _h2 += c;
        _h3 += d;
        _h4 += e;
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w));
    }
}
