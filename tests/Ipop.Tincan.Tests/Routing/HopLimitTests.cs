using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.Tests.Routing;

public sealed class HopLimitTests
{
    [Fact]
    public void Decrementing_the_ttl_updates_the_checksum_exactly_as_a_full_recomputation_would()
    {
        // RFC 1624's corner cases live in the checksum's carries: random headers (options included) cover them.
        var random = new Random(1624);
        byte[] header = new byte[60];
        for (int run = 0; run < 20_000; run++)
        {
            int ihl = 5 + random.Next(11);
            Span<byte> h = header.AsSpan(0, ihl * 4);
            random.NextBytes(h);
            h[0] = (byte)(0x40 | ihl);
            h[8] = (byte)(2 + random.Next(254));
            if (run % 7 == 0)
            {
                h[9] = 0xFF; // protocol byte all ones: the low half of the word cannot absorb a borrow
            }

            BinaryPrimitives.WriteUInt16BigEndian(h[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(h[10..], IcmpUnreachable.Checksum(h, 0));
            byte ttl = h[8];

            HopLimit.Decrement(h);

            Assert.Equal(ttl - 1, h[8]);
            ushort incremental = BinaryPrimitives.ReadUInt16BigEndian(h[10..]);
            BinaryPrimitives.WriteUInt16BigEndian(h[10..], 0);
            Assert.Equal(IcmpUnreachable.Checksum(h, 0), incremental);
        }
    }

    [Fact]
    public void Ipv6_hop_limit_is_decremented_and_nothing_else_changes()
    {
        byte[] p = new byte[48];
        p[0] = 0x60;
        p[7] = 2;
        byte[] before = (byte[])p.Clone();
        HopLimit.Decrement(p);
        Assert.Equal(1, p[7]);
        p[7] = 2;
        Assert.Equal(before, p);
    }

    [Theory]
    [InlineData(new byte[0], -1)]
    [InlineData(new byte[] { 0x45, 0, 0, 0 }, -1)]          // shorter than the header
    [InlineData(new byte[] { 0x75, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, -1)] // version 7
    [InlineData(new byte[] { 0x44, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, -1)] // IHL below 5
    [InlineData(new byte[] { 0x45, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 9)]
    public void Only_whole_ip_headers_have_a_hop_limit(byte[] packet, int expected) => Assert.Equal(expected, HopLimit.Read(packet));

    [Fact]
    public void Time_exceeded_comes_from_the_hop_and_quotes_the_packet_with_valid_checksums()
    {
        byte[] original = new byte[48];
        original[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(original.AsSpan(2), 48);
        original[8] = 1;
        original[9] = 17;
        IPAddress.Parse("198.19.0.1").TryWriteBytes(original.AsSpan(12), out _);
        IPAddress.Parse("198.19.0.3").TryWriteBytes(original.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(original.AsSpan(10), IcmpUnreachable.Checksum(original.AsSpan(0, 20), 0));
        byte[] hop = IPAddress.Parse("198.19.0.2").GetAddressBytes();
        byte[] output = new byte[600];

        int n = IcmpUnreachable.WriteTimeExceeded(original, output, hop);
        Span<byte> answer = output.AsSpan(0, n);
        Assert.Equal(20 + 8 + 48, n);
        Assert.Equal(IPAddress.Parse("198.19.0.2"), new IPAddress(answer.Slice(12, 4)));
        Assert.Equal(IPAddress.Parse("198.19.0.1"), new IPAddress(answer.Slice(16, 4)));
        Assert.Equal(11, answer[20]);
        Assert.Equal(0, answer[21]);
        Assert.Equal(0, IcmpUnreachable.Checksum(answer[..20], 0));
        Assert.Equal(0, IcmpUnreachable.Checksum(answer[20..], 0));
        Assert.True(answer[28..].SequenceEqual(original));

        // Without the hop's address the answer comes from the packet's destination, like the interface path's.
        n = IcmpUnreachable.WriteTimeExceeded(original, output, default);
        Assert.Equal(IPAddress.Parse("198.19.0.3"), new IPAddress(output.AsSpan(12, 4)));

        // Never an error about an error: a time exceeded that itself ran out of hops is not answered.
        Assert.Equal(0, IcmpUnreachable.WriteTimeExceeded(output.AsSpan(0, n), new byte[600], hop));
    }

    [Fact]
    public void Ipv6_time_exceeded_is_type_3_from_the_hop()
    {
        byte[] original = new byte[60];
        original[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(original.AsSpan(4), 20);
        original[6] = 17;
        original[7] = 1;
        IPAddress.Parse("2001:2::1").TryWriteBytes(original.AsSpan(8), out _);
        IPAddress.Parse("2001:2::3").TryWriteBytes(original.AsSpan(24), out _);
        byte[] output = new byte[1500];
        int n = IcmpUnreachable.WriteTimeExceeded(original, output, IPAddress.Parse("2001:2::2").GetAddressBytes());
        Assert.Equal(40 + 8 + 60, n);
        Assert.Equal(IPAddress.Parse("2001:2::2"), new IPAddress(output.AsSpan(8, 16)));
        Assert.Equal(IPAddress.Parse("2001:2::1"), new IPAddress(output.AsSpan(24, 16)));
        Assert.Equal(3, output[40]);
        Assert.Equal(0, output[41]);
    }
}
