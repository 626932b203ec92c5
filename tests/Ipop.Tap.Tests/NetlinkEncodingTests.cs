using System.Buffers.Binary;
using System.Net.NetworkInformation;
using System.Text;
using Ipop.Tap.Netlink;

namespace Ipop.Tap.Tests;

public sealed class NetlinkEncodingTests
{
    [Fact]
    public void Ipv6_address_request_carries_local_address_and_nodad_flag()
    {
        var writer = new NetlinkMessageWriter(stackalloc byte[128], Rtnl.RTM_NEWADDR, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK | Rtnl.NLM_F_CREATE | Rtnl.NLM_F_EXCL, 7);
        RtNetlinkSocket.WriteAddress(ref writer, 5, InterfaceAddress.Parse("2001:2::1/64"), withFlags: true);

        // nlmsghdr(len 72, type 20, flags 0x605, seq 7, pid 0) ifaddrmsg(AF_INET6, /64, IFA_F_NODAD, universe, index 5)
        // IFA_LOCAL(20 bytes) IFA_ADDRESS(20 bytes) IFA_FLAGS(8 bytes: NODAD).
        Assert.Equal(
            "48000000" + "1400" + "0506" + "07000000" + "00000000"
            + "0a400200" + "05000000"
            + "1400" + "0200" + "20010002000000000000000000000001"
            + "1400" + "0100" + "20010002000000000000000000000001"
            + "0800" + "0800" + "02000000",
            Convert.ToHexString(writer.Message).ToLowerInvariant());
    }

    [Fact]
    public void Ipv4_address_request_pads_nothing_and_has_no_flags_attribute()
    {
        var writer = new NetlinkMessageWriter(stackalloc byte[128], Rtnl.RTM_DELADDR, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, 9);
        RtNetlinkSocket.WriteAddress(ref writer, 3, InterfaceAddress.Parse("198.19.0.1/16"), withFlags: false);

        Assert.Equal(
            "28000000" + "1500" + "0500" + "09000000" + "00000000"
            + "02100000" + "03000000"
            + "0800" + "0200" + "c6130001"
            + "0800" + "0100" + "c6130001",
            Convert.ToHexString(writer.Message).ToLowerInvariant());
    }

    [Fact]
    public void Link_request_sets_only_the_up_flag_through_the_change_mask_and_pads_the_mac()
    {
        var writer = new NetlinkMessageWriter(stackalloc byte[128], Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, 1);
        writer.WriteInterfaceInfo(Rtnl.AF_UNSPEC, 4, Rtnl.IFF_UP, Rtnl.IFF_UP);
        writer.WriteAttribute(Rtnl.IFLA_ADDRESS, PhysicalAddress.Parse("02-00-5E-10-00-01").GetAddressBytes());
        writer.WriteAttribute(Rtnl.IFLA_MTU, 1400u);

        Assert.Equal(
            "34000000" + "1000" + "0500" + "01000000" + "00000000"
            + "00000000" + "04000000" + "01000000" + "01000000"
            + "0a00" + "0100" + "02005e100001" + "0000"
            + "0800" + "0400" + "78050000",
            Convert.ToHexString(writer.Message).ToLowerInvariant());
    }

    [Fact]
    public void Request_larger_than_the_buffer_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() =>
        {
            var writer = new NetlinkMessageWriter(stackalloc byte[24], Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST, 1);
            writer.WriteInterfaceInfo(Rtnl.AF_UNSPEC, 1, 0, 0);
        });
    }

    [Fact]
    public void Ack_with_extended_message_yields_errno_and_kernel_text()
    {
        byte[] ack = BuildAck(sequence: 42, error: -22, capped: true, message: "MTU greater than device maximum");

        Assert.True(NetlinkAck.TryRead(ack, 42, out int errno, out string? text));
        Assert.Equal(22, errno);
        Assert.Equal("MTU greater than device maximum", text);
    }

    [Fact]
    public void Successful_ack_is_errno_zero_and_other_sequences_are_ignored()
    {
        byte[] stale = BuildAck(sequence: 41, error: -17, capped: false, message: null);
        byte[] ours = BuildAck(sequence: 42, error: 0, capped: false, message: null);
        byte[] both = [.. stale, .. ours];

        Assert.False(NetlinkAck.TryRead(stale, 42, out _, out _));
        Assert.True(NetlinkAck.TryRead(both, 42, out int errno, out string? text));
        Assert.Equal(0, errno);
        Assert.Null(text);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0400000002000000")]
    [InlineData("ff000000020000002a00000000000000")]
    [InlineData("14000000020000002a00000000000000ea")]
    public void Truncated_or_malformed_datagrams_are_not_taken_for_an_ack(string hex)
    {
        Assert.False(NetlinkAck.TryRead(Convert.FromHexString(hex), 42, out _, out _));
    }

    private static byte[] BuildAck(uint sequence, int error, bool capped, string? message)
    {
        // The echoed request: a 16-byte header plus an 8-byte payload (dropped when capped).
        int echoed = capped ? 16 : 24;
        byte[] text = message is null ? [] : [.. Encoding.UTF8.GetBytes(message), 0];
        int attribute = text.Length == 0 ? 0 : Rtnl.Align(4 + text.Length);
        int length = 16 + 4 + echoed + attribute;
        byte[] ack = new byte[length];
        BinaryPrimitives.WriteUInt32LittleEndian(ack, (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(ack.AsSpan(4), Rtnl.NLMSG_ERROR);
        ushort flags = (ushort)((capped ? Rtnl.NLM_F_CAPPED : 0) | (text.Length > 0 ? Rtnl.NLM_F_ACK_TLVS : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(ack.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(ack.AsSpan(8), sequence);
        BinaryPrimitives.WriteInt32LittleEndian(ack.AsSpan(16), error);
        BinaryPrimitives.WriteUInt32LittleEndian(ack.AsSpan(20), 24); // echoed nlmsg_len
        BinaryPrimitives.WriteUInt32LittleEndian(ack.AsSpan(28), sequence);
        if (text.Length > 0)
        {
            int at = 20 + echoed;
            BinaryPrimitives.WriteUInt16LittleEndian(ack.AsSpan(at), (ushort)(4 + text.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(ack.AsSpan(at + 2), Rtnl.NLMSGERR_ATTR_MSG);
            text.CopyTo(ack.AsSpan(at + 4));
        }

        return ack;
    }
}
