using System.Buffers.Binary;

namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// Rewrites IPv4 source and destination addresses in place and fixes every checksum that covers them
/// incrementally (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), so the cost does not depend on the
/// payload size: the IPv4 header checksum, the TCP/UDP checksum (its pseudo-header holds both
/// addresses), and for ICMP errors the quoted inner header, its checksum and the outer ICMP checksum
/// that covers the quote. Fragments: every fragment's header is rewritten; only the first fragment
/// carries the transport header whose checksum must change.
/// </summary>
internal static class Ipv4AddressTranslator
{
    private const byte Icmp = 1;
    private const byte Tcp = 6;
    private const byte Udp = 17;

    /// <summary>Why a packet was not translated (the data plane counts these as drops).</summary>
    public enum Result
    {
        Translated,
        NotIpv4,
        Truncated,
        UnexpectedSource,
        UnexpectedDestination,
    }

    /// <summary>Translates a packet that arrived from the friend described by <paramref name="t"/>.</summary>
    public static Result TranslateInbound(Span<byte> packet, in Ipv4Translation t)
    {
        if (packet.Length < 20 || (packet[0] >> 4) != 4)
        {
            return packet.Length == 0 || (packet[0] >> 4) != 4 ? Result.NotIpv4 : Result.Truncated;
        }

        int ihl = (packet[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (ihl < 20 || packet.Length < ihl || total < ihl || total > packet.Length)
        {
            return Result.Truncated;
        }

        // Anti-spoofing: a friend may only speak as itself, to us.
        if (ReadAddress(packet, 12) != t.PeerSelf)
        {
            return Result.UnexpectedSource;
        }

        if (ReadAddress(packet, 16) != t.PeerViewOfMe)
        {
            return Result.UnexpectedDestination;
        }

        Rewrite(packet[..total], ihl, t.PeerSelf, t.MyViewOfPeer, t.PeerViewOfMe, t.MySelf, isInner: false);
        return Result.Translated;
    }

    /// <summary>
    /// Replaces source <paramref name="oldSrc"/> by <paramref name="newSrc"/> and destination
    /// <paramref name="oldDst"/> by <paramref name="newDst"/> in the header at the start of
    /// <paramref name="packet"/>, updating the checksums that cover them.
    /// </summary>
    /// <returns>The total change to the one's-complement sum of <paramref name="packet"/>'s bytes, for an enclosing ICMP checksum.</returns>
    private static uint Rewrite(Span<byte> packet, int ihl, uint oldSrc, uint newSrc, uint oldDst, uint newDst, bool isInner)
    {
        uint bytesDelta = 0;
        uint addressDelta = Delta(oldSrc, newSrc) + Delta(oldDst, newDst);
        WriteAddress(packet, 12, newSrc);
        WriteAddress(packet, 16, newDst);
        bytesDelta += addressDelta;

        ushort oldHeaderChecksum = BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        ushort newHeaderChecksum = Adjust(oldHeaderChecksum, addressDelta);
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], newHeaderChecksum);
        bytesDelta += Delta16(oldHeaderChecksum, newHeaderChecksum);

        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x1FFF) == 0;
        if (!firstFragment)
        {
            return bytesDelta;
        }

        Span<byte> l4 = packet[ihl..];
        switch (packet[9])
        {
            case Tcp when l4.Length >= 18:
                bytesDelta += AdjustAt(l4, 16, addressDelta);
                break;
            case Udp when l4.Length >= 8:
                // A zero UDP checksum means "none" (RFC 768) and must stay zero; a computed 0 is sent as 0xFFFF.
                if (BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) != 0)
                {
                    bytesDelta += AdjustAt(l4, 6, addressDelta, zeroMeansNone: true);
                }

                break;
            case Icmp when !isInner && l4.Length >= 8 + 20 && IsError(l4[0]):
                bytesDelta += TranslateQuote(l4, oldSrc, newSrc, oldDst, newDst);
                break;
        }

        return bytesDelta;
    }

    /// <summary>
    /// An ICMP error quotes the packet that caused it, which travelled the other way: its source is the
    /// outer destination and its destination the outer source. Rewrite it consistently and carry the
    /// change into the ICMP checksum (which covers the quote but, unlike TCP/UDP, no pseudo-header).
    /// </summary>
    private static uint TranslateQuote(Span<byte> icmp, uint outerOldSrc, uint outerNewSrc, uint outerOldDst, uint outerNewDst)
    {
        Span<byte> inner = icmp[8..];
        if ((inner[0] >> 4) != 4)
        {
            return 0;
        }

        int innerIhl = (inner[0] & 0x0F) * 4;
        if (innerIhl < 20 || inner.Length < innerIhl || ReadAddress(inner, 12) != outerOldDst || ReadAddress(inner, 16) != outerOldSrc)
        {
            return 0;
        }

        uint quoteDelta = Rewrite(inner, innerIhl, outerOldDst, outerNewDst, outerOldSrc, outerNewSrc, isInner: true);
        return AdjustAt(icmp, 2, quoteDelta);
    }

    private static bool IsError(byte type) => type is 3 or 4 or 5 or 11 or 12;

    private static uint AdjustAt(Span<byte> data, int offset, uint delta, bool zeroMeansNone = false)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(data[offset..]);
        ushort updated = Adjust(old, delta);
        if (zeroMeansNone && updated == 0)
        {
            updated = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(data[offset..], updated);
        return Delta16(old, updated);
    }

    /// <summary>RFC 1624 eqn. 3 with the sum of (~m + m') over the changed words precomputed in <paramref name="delta"/>.</summary>
    private static ushort Adjust(ushort checksum, uint delta)
    {
        uint sum = (uint)(ushort)~checksum + delta;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>Sum over both 16-bit halves of ~old + new.</summary>
    private static uint Delta(uint oldValue, uint newValue) =>
        Delta16((ushort)(oldValue >> 16), (ushort)(newValue >> 16)) + Delta16((ushort)oldValue, (ushort)newValue);

    private static uint Delta16(ushort oldValue, ushort newValue) => (uint)(ushort)~oldValue + newValue;

    private static uint ReadAddress(ReadOnlySpan<byte> packet, int offset) => BinaryPrimitives.ReadUInt32BigEndian(packet[offset..]);

    private static void WriteAddress(Span<byte> packet, int offset, uint address) => BinaryPrimitives.WriteUInt32BigEndian(packet[offset..], address);
}
