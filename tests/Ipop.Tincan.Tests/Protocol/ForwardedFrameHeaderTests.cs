using CsCheck;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.Protocol;

public sealed class ForwardedFrameHeaderTests
{
    [Fact]
    public void A_flood_shim_and_a_unicast_shim_have_stable_bytes()
    {
        byte[] flood = new byte[ForwardedFrameHeader.Length];
        ForwardedFrameHeader.Write(flood, 32, flood: true, bound: 0x0123456789abcdef);
        Assert.Equal("200100000123456789ABCDEF", Convert.ToHexString(flood));

        byte[] unicast = new byte[ForwardedFrameHeader.Length];
        ForwardedFrameHeader.Write(unicast, 7, flood: false, bound: 0x0123456789abcdef);
        Assert.Equal("070000000000000000000000", Convert.ToHexString(unicast));

        ForwardedFrameHeader.WriteBound(flood, ulong.MaxValue);
        Assert.Equal("20010000FFFFFFFFFFFFFFFF", Convert.ToHexString(flood));

        // Backfill (bit 1) is set or cleared per copy with its bound.
        ForwardedFrameHeader.WriteBound(flood, 5, backfill: true);
        Assert.Equal("200300000000000000000005", Convert.ToHexString(flood));
        Assert.True(ForwardedFrameHeader.TryRead(flood, out _, out bool isFlood, out ulong bound, out bool backfill));
        Assert.Equal((true, 5UL, true), (isFlood, bound, backfill));
        ForwardedFrameHeader.WriteBound(flood, 6);
        Assert.True(ForwardedFrameHeader.TryRead(flood, out _, out _, out _, out backfill));
        Assert.False(backfill);
    }

    [Fact]
    public void The_shim_round_trips()
    {
        Gen.Select(Gen.Byte[1, 255], Gen.Bool, Gen.ULong).Sample((hops, flood, bound) =>
        {
            byte[] payload = new byte[ForwardedFrameHeader.Length + 14];
            ForwardedFrameHeader.Write(payload, hops, flood, bound);
            Assert.True(ForwardedFrameHeader.TryRead(payload, out byte h, out bool f, out ulong b));
            Assert.Equal((hops, flood, flood ? bound : 0UL), (h, f, b));
        });
    }

    [Theory]
    [InlineData("000100000000000000000001", "no hops left")]
    [InlineData("200200000000000000000000", "backfill on a unicast")]
    [InlineData("200400000000000000000001", "an unknown flag")]
    [InlineData("200500000000000000000001", "an unknown flag beside the flood flag")]
    [InlineData("200101000000000000000001", "reserved byte 2")]
    [InlineData("200100010000000000000001", "reserved byte 3")]
    [InlineData("200000000000000000000001", "a unicast with a bound")]
    [InlineData("2001000000000000000000", "one byte short")]
    public void A_malformed_shim_is_refused(string hex, string what)
    {
        Assert.False(ForwardedFrameHeader.TryRead(Convert.FromHexString(hex), out _, out _, out _), what);
    }

    [Fact]
    public void Any_bytes_are_read_without_throwing()
    {
        // A block body: an expression lambda returning the bool would make CsCheck treat false as a failed sample.
        Gen.Byte.Array[0, 40].Sample(bytes =>
        {
            _ = ForwardedFrameHeader.TryRead(bytes, out _, out _, out _);
        });
    }

    [Fact]
    public void The_transport_header_accepts_the_forwarded_frame_kind_and_nothing_beyond()
    {
        byte[] datagram = new byte[TransportHeader.MinimumDatagramLength];
        TransportHeader.Write(datagram, ContentKind.ForwardedFrame, 1, 1);
        Assert.True(TransportHeader.TryRead(datagram, out ContentKind kind, out _, out _));
        Assert.Equal(ContentKind.ForwardedFrame, kind);
        datagram[1] = 8;
        Assert.False(TransportHeader.TryRead(datagram, out _, out _, out _));
    }
}
