using System.Buffers.Binary;
using Ipop.Controllers.SocialVpn;
using Ipop.Lab;
using static Ipop.Controllers.Tests.SocialVpn.Ipv4Packets;

namespace Ipop.Controllers.Tests.SocialVpn;

/// <summary>
/// Alice is 198.19.100.1 in her view and calls Bob 198.19.100.2. Bob is 198.19.50.1 in his view and calls
/// Alice 198.19.50.7. A packet from Alice arrives at Bob as 198.19.100.1 -> 198.19.100.2 and must leave
/// Bob's translator as 198.19.50.7 -> 198.19.50.1 with every checksum exactly as if computed from scratch.
/// </summary>
public sealed class Ipv4AddressTranslatorTests
{
    private static readonly Ipv4Translation AtBob = new(Addr("198.19.100.1"), Addr("198.19.100.2"), Addr("198.19.50.7"), Addr("198.19.50.1"));

    private static byte[] Translate(byte[] packet)
    {
        byte[] copy = (byte[])packet.Clone();
        Assert.Equal(Ipv4AddressTranslator.Result.Translated, Ipv4AddressTranslator.TranslateInbound(copy, AtBob));
        return copy;
    }

    private static void AssertSameAsRecomputed(byte[] translated, bool udpChecksum = true)
    {
        byte[] recomputed = WithChecksums((byte[])translated.Clone(), udpChecksum);
        Assert.Equal(Convert.ToHexString(recomputed), Convert.ToHexString(translated));
    }

    [Fact]
    public void Tcp_segment_addresses_and_checksums_are_rewritten()
    {
        byte[] translated = Translate(WithChecksums(Build("198.19.100.1", "198.19.100.2", 6, Tcp(40000, 5201, "hello through the overlay"u8.ToArray()))));
        Assert.Equal(Addr("198.19.50.7"), BinaryPrimitives.ReadUInt32BigEndian(translated.AsSpan(12)));
        Assert.Equal(Addr("198.19.50.1"), BinaryPrimitives.ReadUInt32BigEndian(translated.AsSpan(16)));
        AssertSameAsRecomputed(translated);
    }

    [Fact]
    public void Udp_datagram_checksum_is_updated_and_a_zero_checksum_stays_zero()
    {
        AssertSameAsRecomputed(Translate(WithChecksums(Build("198.19.100.1", "198.19.100.2", 17, Udp(5353, 53, new byte[33])))));
        byte[] none = Translate(WithChecksums(Build("198.19.100.1", "198.19.100.2", 17, Udp(5353, 53, new byte[33])), udpChecksum: false));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(none.AsSpan(26)));
        AssertSameAsRecomputed(none, udpChecksum: false);
    }

    [Fact]
    public void Icmp_echo_keeps_a_valid_checksum_since_icmp_has_no_pseudo_header()
    {
        byte[] original = WithChecksums(Build("198.19.100.1", "198.19.100.2", 1, IcmpEcho(new byte[56])));
        byte[] translated = Translate(original);
        Assert.Equal(original.AsSpan(20).ToArray(), translated.AsSpan(20).ToArray());
        AssertSameAsRecomputed(translated);
    }

    [Fact]
    public void Icmp_error_quoting_our_packet_has_its_inner_header_translated_too()
    {
        // Bob sent 198.19.50.1:4000 -> 198.19.50.7:9 (UDP); at Alice it became 198.19.100.2 -> 198.19.100.1;
        // Alice's kernel answers "port unreachable" quoting that, and it comes back to Bob.
        byte[] quoted = WithChecksums(Build("198.19.100.2", "198.19.100.1", 17, Udp(4000, 9, new byte[12])));
        byte[] error = WithChecksums(Build("198.19.100.1", "198.19.100.2", 1, IcmpError(3, 3, quoted)));
        byte[] translated = Translate(error);
        Assert.Equal(Addr("198.19.50.1"), BinaryPrimitives.ReadUInt32BigEndian(translated.AsSpan(28 + 12)));
        Assert.Equal(Addr("198.19.50.7"), BinaryPrimitives.ReadUInt32BigEndian(translated.AsSpan(28 + 16)));
        AssertSameAsRecomputed(translated);
        Snapshot.Verify(Convert.ToHexString(translated));
    }

    [Fact]
    public void Fragments_are_all_readdressed_and_only_the_first_carries_a_transport_checksum_change()
    {
        // A 2-fragment UDP datagram: checksums are computed over the whole datagram, then split.
        byte[] whole = WithChecksums(Build("198.19.100.1", "198.19.100.2", 17, Udp(7000, 7001, Enumerable.Range(0, 64).Select(i => (byte)i).ToArray())));
        byte[] l4 = whole[20..];
        byte[] first = WithChecksums(Build("198.19.100.1", "198.19.100.2", 17, l4[..40], fragmentField: 0x2000));
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(26), BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(26)));
        WithChecksums(first); // header checksum only (more-fragments set)
        byte[] second = WithChecksums(Build("198.19.100.1", "198.19.100.2", 17, l4[40..], fragmentField: 5));

        byte[] t1 = Translate(first);
        byte[] t2 = Translate(second);
        byte[] reassembled = Build("198.19.50.7", "198.19.50.1", 17, [.. t1[20..], .. t2[20..]]);
        ushort expected = BinaryPrimitives.ReadUInt16BigEndian(WithChecksums((byte[])reassembled.Clone()).AsSpan(26));
        Assert.Equal(expected, BinaryPrimitives.ReadUInt16BigEndian(t1.AsSpan(26)));
        Assert.Equal(t2[20..], second[20..]);
        Assert.Equal(0, Checksum(t1.AsSpan(0, 20), 0));
        Assert.Equal(0, Checksum(t2.AsSpan(0, 20), 0));
    }

    [Fact]
    public void Spoofed_source_wrong_destination_and_truncated_packets_are_refused_untouched()
    {
        byte[] spoofed = WithChecksums(Build("198.19.100.9", "198.19.100.2", 17, Udp(1, 2, new byte[4])));
        byte[] before = (byte[])spoofed.Clone();
        Assert.Equal(Ipv4AddressTranslator.Result.UnexpectedSource, Ipv4AddressTranslator.TranslateInbound(spoofed, AtBob));
        Assert.Equal(before, spoofed);
        Assert.Equal(Ipv4AddressTranslator.Result.UnexpectedDestination, Ipv4AddressTranslator.TranslateInbound(WithChecksums(Build("198.19.100.1", "198.19.100.3", 17, Udp(1, 2, new byte[4]))), AtBob));
        Assert.Equal(Ipv4AddressTranslator.Result.Truncated, Ipv4AddressTranslator.TranslateInbound(new byte[] { 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 }, AtBob));
        Assert.Equal(Ipv4AddressTranslator.Result.NotIpv4, Ipv4AddressTranslator.TranslateInbound(new byte[40] { 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, AtBob));
    }

    [Fact]
    public void Random_packets_always_match_a_from_scratch_recomputation()
    {
        var random = new Random(1624);
        for (int i = 0; i < 2000; i++)
        {
            uint a = (uint)random.NextInt64(), b = (uint)random.NextInt64(), c = (uint)random.NextInt64(), d = (uint)random.NextInt64();
            var t = new Ipv4Translation(a, b, c, d);
            byte[] payload = new byte[random.Next(0, 300)];
            random.NextBytes(payload);
            byte protocol = (byte)(random.Next(3) switch { 0 => 6, 1 => 17, _ => 1 });
            byte[] l4 = protocol switch { 6 => Tcp(random.Next(65536), random.Next(65536), payload), 17 => Udp(random.Next(65536), random.Next(65536), payload), _ => IcmpEcho(payload) };
            byte[] packet = Build("0.0.0.0", "0.0.0.0", protocol, l4);
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), a);
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), b);
            WithChecksums(packet);
            Assert.Equal(Ipv4AddressTranslator.Result.Translated, Ipv4AddressTranslator.TranslateInbound(packet, t));
            Assert.Equal(c, BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(12)));
            Assert.Equal(d, BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(16)));
            byte[] recomputed = WithChecksums((byte[])packet.Clone());
            Assert.True(recomputed.AsSpan().SequenceEqual(packet), $"case {i}: protocol {protocol}\n{Convert.ToHexString(packet)}\n{Convert.ToHexString(recomputed)}");
        }
    }
}
