using System.Buffers.Binary;
using System.Net;

namespace Ipop.Tincan.Tests.Routing;

public sealed class IcmpUnreachableTests
{
    private static byte[] Udp4(string src, string dst, int payload = 20)
    {
        byte[] p = new byte[28 + payload];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        p[8] = 64;
        p[9] = 17;
        IPAddress.Parse(src).TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse(dst).TryWriteBytes(p.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), IcmpUnreachable.Checksum(p.AsSpan(0, 20), 0));
        return p;
    }

    [Fact]
    public void Ipv4_answer_goes_back_to_the_sender_with_valid_checksums_and_quotes_the_packet()
    {
        byte[] original = Udp4("198.19.0.1", "198.19.0.9");
        byte[] output = new byte[1500];
        int n = IcmpUnreachable.Write(original, output);
        Span<byte> answer = output.AsSpan(0, n);
        Assert.Equal(20 + 8 + original.Length, n);
        Assert.Equal(IPAddress.Parse("198.19.0.9"), new IPAddress(answer.Slice(12, 4)));
        Assert.Equal(IPAddress.Parse("198.19.0.1"), new IPAddress(answer.Slice(16, 4)));
        Assert.Equal(0, IcmpUnreachable.Checksum(answer[..20], 0)); // a correct header sums to zero
        Assert.Equal(0, IcmpUnreachable.Checksum(answer[20..], 0));
        Assert.Equal(3, answer[20]);
        Assert.Equal(1, answer[21]);
        Assert.True(answer[28..].SequenceEqual(original));
    }

    [Fact]
    public void Ipv6_answer_has_a_valid_pseudo_header_checksum()
    {
        byte[] original = new byte[60];
        original[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(original.AsSpan(4), 20);
        original[6] = 17;
        original[7] = 64;
        IPAddress.Parse("2001:2::1").TryWriteBytes(original.AsSpan(8), out _);
        IPAddress.Parse("2001:2::9").TryWriteBytes(original.AsSpan(24), out _);
        byte[] output = new byte[1500];
        int n = IcmpUnreachable.Write(original, output);
        Span<byte> answer = output.AsSpan(0, n);
        Assert.Equal(40 + 8 + 60, n);
        Assert.Equal(IPAddress.Parse("2001:2::1"), new IPAddress(answer.Slice(24, 16)));
        Assert.Equal(1, answer[40]);
        Assert.Equal(3, answer[41]);
        byte[] pseudo = [.. answer.Slice(8, 32).ToArray(), 0, 0, 0, 68, 0, 0, 0, 58];
        uint partial = 0;
        for (int i = 0; i < pseudo.Length; i += 2)
        {
            partial += BinaryPrimitives.ReadUInt16BigEndian(pseudo.AsSpan(i));
        }

        Assert.Equal(0, IcmpUnreachable.Checksum(answer[40..], partial));
    }

    [Fact]
    public void Never_answers_an_icmp_error_a_multicast_source_or_a_truncated_packet()
    {
        byte[] output = new byte[1500];
        byte[] icmpError = Udp4("198.19.0.1", "198.19.0.9");
        icmpError[9] = 1;
        icmpError[20] = 3;
        Assert.Equal(0, IcmpUnreachable.Write(icmpError, output));
        Assert.Equal(0, IcmpUnreachable.Write(Udp4("224.0.0.1", "198.19.0.9"), output));
        Assert.Equal(0, IcmpUnreachable.Write(Udp4("198.19.0.1", "198.19.0.9").AsSpan(0, 10), output));
        Assert.Equal(0, IcmpUnreachable.Write(Udp4("198.19.0.1", "198.19.0.9"), new byte[30]));
        Assert.Equal(0, IcmpUnreachable.Write([], output));
    }

    [Fact]
    public void Large_packets_are_quoted_only_up_to_the_rfc_limits()
    {
        byte[] output = new byte[2000];
        Assert.Equal(576, IcmpUnreachable.Write(Udp4("198.19.0.1", "198.19.0.9", 1400), output));
    }
}
