using CsCheck;
using Ipop.Tincan.DataPlane.Mtu;

namespace Ipop.Tincan.Tests.DataPlane.Mtu;

public sealed class MssClampTests
{
    [Theory]
    [InlineData(false, TestPackets.Syn, 1220, 1180)]
    [InlineData(false, TestPackets.Syn | TestPackets.Ack, 1220, 1180)]
    [InlineData(true, TestPackets.Syn, 1220, 1160)]
    [InlineData(true, TestPackets.Syn | TestPackets.Ack, 1300, 1240)]
    public void A_syn_mss_above_the_path_is_lowered_and_the_checksum_still_verifies(bool ipv6, byte flags, int mtu, int expected)
    {
        byte[] packet = TestPackets.Tcp(ipv6, flags, mss: 1460);
        Assert.True(TestPackets.L4ChecksumVerifies(packet, ipv6, 6));

        Assert.True(MssClamp.Apply(packet, mtu));

        Assert.Equal(expected, TestPackets.Mss(packet));
        Assert.True(TestPackets.L4ChecksumVerifies(packet, ipv6, 6));
    }

    [Fact]
    public void A_syn_mss_that_fits_and_packets_that_are_no_syn_are_left_alone()
    {
        byte[] small = TestPackets.Tcp(false, TestPackets.Syn, mss: 1000);
        byte[] data = TestPackets.Tcp(false, TestPackets.Ack, mss: 1460);
        byte[] noOption = TestPackets.Tcp(false, TestPackets.Syn, mss: 0);
        byte[] echo = TestPackets.Echo(false, 1400);
        foreach (byte[] packet in new[] { small, data, noOption, echo })
        {
            byte[] before = (byte[])packet.Clone();
            Assert.False(MssClamp.Apply(packet, 1220));
            Assert.Equal(before, packet);
        }
    }

    [Fact]
    public void Truncated_and_malformed_packets_are_left_alone_without_throwing()
    {
        byte[] syn = TestPackets.Tcp(false, TestPackets.Syn, mss: 1460);
        for (int length = 0; length < syn.Length; length++)
        {
            byte[] cut = syn[..length];
            MssClamp.Apply(cut, 1220);
        }

        // An option length running past the header.
        byte[] bad = (byte[])syn.Clone();
        bad[20 + 21] = 40;
        Assert.False(MssClamp.Apply(bad, 1220));
    }

    [Fact]
    public void The_incremental_checksum_update_equals_a_full_recomputation_for_any_mss()
    {
        Gen.Select(Gen.Bool, Gen.UShort[536, 9000], Gen.Int[1200, 9000], Gen.Int[0, 1400]).Sample((ipv6, mss, mtu, payload) =>
        {
            byte[] packet = TestPackets.Tcp(ipv6, TestPackets.Syn, mss, payload);
            bool changed = MssClamp.Apply(packet, mtu);
            int max = mtu - (ipv6 ? 60 : 40);
            return changed == (mss > max)
                && TestPackets.Mss(packet) == Math.Min(mss, max)
                && TestPackets.L4ChecksumVerifies(packet, ipv6, 6);
        });
    }
}
