using System.Buffers.Binary;

namespace Ipop.Tincan;

/// <summary>
/// Builds the ICMP (RFC 792) or ICMPv6 (RFC 4443) "destination unreachable" answer for a packet that
/// has no link, so the sending application fails at once instead of waiting for a timeout; and the
/// "fragmentation needed" (RFC 1191) or "packet too big" (RFC 4443 section 3.2) answer for a packet larger
/// than its link's path carries, so the sender's path MTU discovery lowers its size (issue 13; in switch mode inside an
/// Ethernet frame, <see cref="WriteTooBigFrame"/>); and the "time
/// exceeded" answer (RFC 792 type 11, RFC 4443 section 3.3) for a packet whose hop limit ran out while the node
/// forwarded it between links (issue 16).
/// </summary>
/// <remarks>
/// Answers written to the local interface come from the address the packet was for; answers a forwarding node sends
/// back over a link may come from the node's own address instead (<c>from</c>), as a router's do (RFC 1812 section
/// 4.3.2.4), so a traceroute names each hop.
/// </remarks>
internal static class IcmpUnreachable
{
    private const int MaxIpv4Quote = 548; // RFC 1812 §4.3.2.3: the error must fit in 576 bytes.
    private const int MaxIpv6Total = 1280; // RFC 4443 §2.4 (c): never exceed the minimum IPv6 MTU.
    private const int EthernetHeaderLength = 14;

    /// <summary>Writes the answer to <paramref name="original"/> into <paramref name="output"/>.</summary>
    /// <returns>The answer's length, or 0 when none must be sent (an ICMP error itself, a multicast or
    /// unspecified source, a truncated packet, or too little room).</returns>
    public static int Write(ReadOnlySpan<byte> original, Span<byte> output) => Write(original, output, from: default);

    /// <summary>As <see cref="Write(ReadOnlySpan{byte}, Span{byte})"/>, from <paramref name="from"/> (4 or 16 bytes; empty: the unreachable destination).</summary>
    public static int Write(ReadOnlySpan<byte> original, Span<byte> output, ReadOnlySpan<byte> from)
    {
        if (original.Length < 1)
        {
            return 0;
        }

        return (original[0] >> 4) switch
        {
            4 => WriteV4(original, output, type: 3, code: 1, mtu: 0, from), // host unreachable
            6 => WriteV6(original, output, type: 1, code: 3, mtu: 0, from), // address unreachable
            _ => 0,
        };
    }

    /// <summary>
    /// Writes the "time exceeded in transit" answer (IPv4 type 11 code 0, IPv6 type 3 code 0) to <paramref name="original"/>,
    /// whose TTL or hop limit ran out here, from <paramref name="from"/> (4 or 16 bytes; empty: the packet's destination).
    /// </summary>
    /// <returns>The answer's length, or 0 when none must be sent (as for <see cref="Write(ReadOnlySpan{byte}, Span{byte})"/>).</returns>
    public static int WriteTimeExceeded(ReadOnlySpan<byte> original, Span<byte> output, ReadOnlySpan<byte> from)
    {
        if (original.Length < 1)
        {
            return 0;
        }

        return (original[0] >> 4) switch
        {
            4 => WriteV4(original, output, type: 11, code: 0, mtu: 0, from),
            6 => WriteV6(original, output, type: 3, code: 0, mtu: 0, from),
            _ => 0,
        };
    }

    /// <summary>
    /// Writes the "fragmentation needed and DF set" (IPv4, type 3 code 4, next-hop MTU in bytes 6-7) or "packet too
    /// big" (IPv6, type 2, MTU in bytes 4-7) answer to <paramref name="original"/>, naming <paramref name="mtu"/>.
    /// </summary>
    /// <returns>The answer's length, or 0 when none must be sent (as for <see cref="Write(ReadOnlySpan{byte}, Span{byte})"/>; also an IPv4 packet
    /// without DF, which may be fragmented instead).</returns>
    public static int WriteTooBig(ReadOnlySpan<byte> original, int mtu, Span<byte> output) => WriteTooBig(original, mtu, output, from: default);

    /// <summary>As <see cref="WriteTooBig(ReadOnlySpan{byte}, int, Span{byte})"/>, from <paramref name="from"/> (4 or 16 bytes; empty: the packet's destination).</summary>
    public static int WriteTooBig(ReadOnlySpan<byte> original, int mtu, Span<byte> output, ReadOnlySpan<byte> from)
    {
        if (original.Length < 1)
        {
            return 0;
        }

        switch (original[0] >> 4)
        {
            case 4 when original.Length >= 20 && (original[6] & 0x40) != 0:
                return WriteV4(original, output, type: 3, code: 4, mtu: Math.Clamp(mtu, 68, 0xFFFF), from);
            case 6:
                // Every IPv6 link carries 1280 (RFC 8200 section 5): a smaller MTU is never advertised.
                return WriteV6(original, output, type: 2, code: 0, mtu: Math.Max(mtu, 1280), from);
            default:
                return 0;
        }
    }

    /// <summary>
    /// <see cref="WriteTooBig(ReadOnlySpan{byte}, int, Span{byte})"/> for switch (TAP) mode: answers the IP packet inside the
    /// untagged Ethernet <paramref name="frame"/> with an Ethernet frame written to <paramref name="output"/>, addressed
    /// back to the frame's source from the station it was sent to, naming <paramref name="mtu"/> (IP bytes).
    /// </summary>
    /// <returns>The answer frame's length, or 0 when none must be sent: as for <see cref="WriteTooBig(ReadOnlySpan{byte}, int, Span{byte})"/>,
    /// and also a frame for a group (broadcast, multicast) address or from one, a VLAN-tagged frame, or an EtherType that
    /// does not match the IP version inside.</returns>
    /// <remarks>
    /// The MACs are swapped so the answer comes from the station the sender was talking to: the sender already reaches the
    /// answer's source IP (the packet's destination) through that MAC, its neighbour's or its gateway's, so the answer
    /// looks like any packet from there and disturbs nothing in its neighbour table. A group destination is never
    /// answered: there is no one station to answer from.
    /// VLAN-tagged frames are left alone (the switch clamps and answers untagged frames only).
    /// </remarks>
    public static int WriteTooBigFrame(ReadOnlySpan<byte> frame, int mtu, Span<byte> output)
    {
        if (frame.Length < EthernetHeaderLength + 1 || output.Length < EthernetHeaderLength || (frame[0] & 1) != 0 || (frame[6] & 1) != 0)
        {
            return 0;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        int version = frame[EthernetHeaderLength] >> 4;
        if (!(etherType == 0x0800 && version == 4) && !(etherType == 0x86DD && version == 6))
        {
            return 0;
        }

        int answer = WriteTooBig(frame[EthernetHeaderLength..], mtu, output[EthernetHeaderLength..]);
        if (answer == 0)
        {
            return 0;
        }

        frame.Slice(6, 6).CopyTo(output); // back to the sender...
        frame[..6].CopyTo(output[6..]); // ...from the station it sent to
        BinaryPrimitives.WriteUInt16BigEndian(output[12..], etherType);
        return EthernetHeaderLength + answer;
    }

    private static int WriteV4(ReadOnlySpan<byte> original, Span<byte> output, byte type, byte code, int mtu, ReadOnlySpan<byte> from)
    {
        int ihl = (original[0] & 0x0F) * 4;
        if (ihl < 20 || original.Length < ihl)
        {
            return 0;
        }

        // Never answer an ICMP error with an error (RFC 1122 §3.2.2), nor a non-first fragment.
        bool fragmentTail = (BinaryPrimitives.ReadUInt16BigEndian(original[6..]) & 0x1FFF) != 0;
        if (fragmentTail || (original[9] == 1 && original.Length > ihl && IsIcmpV4Error(original[ihl])))
        {
            return 0;
        }

        byte firstSource = original[12];
        if (firstSource is 0 || firstSource >= 224)
        {
            return 0;
        }

        int quote = Math.Min(original.Length, MaxIpv4Quote);
        int length = 20 + 8 + quote;
        if (output.Length < length)
        {
            return 0;
        }

        Span<byte> ip = output[..20];
        ip.Clear();
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)length);
        ip[8] = 64;
        ip[9] = 1;
        (from.Length == 4 ? from : original.Slice(16, 4)).CopyTo(ip[12..]); // from this hop or the unreachable destination...
        original.Slice(12, 4).CopyTo(ip[16..]); // ...back to the sender
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));

        Span<byte> icmp = output.Slice(20, 8 + quote);
        icmp[..8].Clear();
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu); // RFC 1191 section 4: next-hop MTU (0 otherwise)
        original[..quote].CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(icmp, 0));
        return length;
    }

    private static int WriteV6(ReadOnlySpan<byte> original, Span<byte> output, byte type, byte code, int mtu, ReadOnlySpan<byte> from)
    {
        if (original.Length < 40)
        {
            return 0;
        }

        // Next header 58 = ICMPv6; types below 128 are errors (RFC 4443 §2.4 (e)).
        if (original[6] == 58 && original.Length > 40 && original[40] < 128)
        {
            return 0;
        }

        ReadOnlySpan<byte> source = original.Slice(8, 16);
        if (source[0] == 0xFF || source.IndexOfAnyExcept((byte)0) < 0)
        {
            return 0;
        }

        int quote = Math.Min(original.Length, MaxIpv6Total - 48);
        int payload = 8 + quote;
        int length = 40 + payload;
        if (output.Length < length)
        {
            return 0;
        }

        Span<byte> ip = output[..40];
        ip.Clear();
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payload);
        ip[6] = 58;
        ip[7] = 64;
        (from.Length == 16 ? from : original.Slice(24, 16)).CopyTo(ip[8..]);
        source.CopyTo(ip[24..]);

        Span<byte> icmp = output.Slice(40, payload);
        icmp[..8].Clear();
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], (uint)mtu); // RFC 4443 section 3.2 (unused, 0, otherwise)
        original[..quote].CopyTo(icmp[8..]);

        // Pseudo-header: source, destination, upper-layer length, next header (RFC 8200 §8.1).
        uint sum = Sum(ip.Slice(8, 32), 0) + (uint)payload + 58;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(icmp, sum));
        return length;
    }

    private static bool IsIcmpV4Error(byte type) => type is 3 or 4 or 5 or 11 or 12;

    /// <summary>The Internet checksum (RFC 1071) of <paramref name="data"/> plus a partial sum.</summary>
    internal static ushort Checksum(ReadOnlySpan<byte> data, uint partial)
    {
        uint sum = Sum(data, partial);
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            if (sum > 0x7FFF_FFFF)
            {
                sum = (sum & 0xFFFF) + (sum >> 16);
            }
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
        }

        return sum;
    }
}
