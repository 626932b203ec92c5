using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.Stun;

/// <summary>
/// MAPPED-ADDRESS and XOR-*-ADDRESS values (RFC 8489 sections 14.1 and 14.2): family, port and address,
/// XORed with the magic cookie (and, for IPv6, the transaction id) so that NATs rewriting addresses in
/// payloads do not touch them.
/// </summary>
internal static class StunAddress
{
    public const int IPv4ValueLength = 8;
    public const int IPv6ValueLength = 20;
    private const byte FamilyIPv4 = 0x01;
    private const byte FamilyIPv6 = 0x02;

    /// <summary>Reads an address value. <paramref name="header"/> is the message's first 20 bytes (cookie + transaction id) for XOR decoding.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, bool xor, ReadOnlySpan<byte> header, out IPEndPoint? endPoint)
    {
        endPoint = null;
        if (value.Length < 4)
        {
            return false;
        }

        byte family = value[1];
        int port = BinaryPrimitives.ReadUInt16BigEndian(value[2..]);
        if (xor)
        {
            port ^= (int)(StunMessage.MagicCookie >> 16);
        }

        if (family == FamilyIPv4 && value.Length == IPv4ValueLength)
        {
            uint address = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
            if (xor)
            {
                address ^= StunMessage.MagicCookie;
            }

            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
            endPoint = new IPEndPoint(new IPAddress(bytes), port);
            return true;
        }

        if (family == FamilyIPv6 && value.Length == IPv6ValueLength)
        {
            Span<byte> bytes = stackalloc byte[16];
            value.Slice(4, 16).CopyTo(bytes);
            if (xor)
            {
                // Key = magic cookie || transaction id = bytes 4..20 of the header.
                ReadOnlySpan<byte> key = header.Slice(4, 16);
                for (int i = 0; i < 16; i++)
                {
                    bytes[i] ^= key[i];
                }
            }

            endPoint = new IPEndPoint(new IPAddress(bytes), port);
            return true;
        }

        return false;
    }

    public static int ValueLength(IPEndPoint endPoint) =>
        endPoint.AddressFamily == AddressFamily.InterNetworkV6 && !endPoint.Address.IsIPv4MappedToIPv6 ? IPv6ValueLength : IPv4ValueLength;

    /// <summary>Writes an address value into <paramref name="destination"/> (exactly <see cref="ValueLength"/> bytes).</summary>
    public static void Write(Span<byte> destination, IPEndPoint endPoint, bool xor, ReadOnlySpan<byte> header)
    {
        IPAddress address = endPoint.Address;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        destination[0] = 0;
        destination[1] = v6 ? FamilyIPv6 : FamilyIPv4;
        int port = endPoint.Port;
        if (xor)
        {
            port ^= (int)(StunMessage.MagicCookie >> 16);
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)port);
        Span<byte> bytes = destination.Slice(4, v6 ? 16 : 4);
        if (!address.TryWriteBytes(bytes, out _))
        {
            throw new ArgumentException("Address does not fit its family.", nameof(endPoint));
        }

        if (xor)
        {
            ReadOnlySpan<byte> key = header.Slice(4, 16);
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] ^= key[i];
            }
        }
    }
}
