using System.Buffers.Binary;
using System.Net;
using Ipop.Tincan.DataPlane.Roaming;

namespace Ipop.Tincan.Tests.DataPlane.Roaming;

public sealed class NetlinkAddressMessagesTests
{
    [Fact]
    public void A_renumbering_burst_reads_as_a_delete_and_an_add_with_their_interfaces_and_addresses()
    {
        byte[] burst = [.. Message(NetlinkAddressMessages.DeleteAddress, 2, IPAddress.Parse("198.18.0.1")), .. Message(NetlinkAddressMessages.NewAddress, 2, IPAddress.Parse("198.18.0.11"))];
        var changes = new List<AddressChange>();

        Assert.Equal(0, NetlinkAddressMessages.Parse(burst, changes));

        Assert.Equal([new AddressChange(false, 2, IPAddress.Parse("198.18.0.1")), new AddressChange(true, 2, IPAddress.Parse("198.18.0.11"))], changes);
        Assert.All(changes, c => Assert.True(c.IsUsable));
    }

    [Fact]
    public void Ipv6_link_local_and_loopback_addresses_are_not_usable_for_peers()
    {
        var changes = new List<AddressChange>();
        NetlinkAddressMessages.Parse([.. Message(NetlinkAddressMessages.NewAddress, 3, IPAddress.Parse("fe80::1")), .. Message(NetlinkAddressMessages.NewAddress, 1, IPAddress.Loopback), .. Message(NetlinkAddressMessages.NewAddress, 3, IPAddress.Parse("2001:2::5"))], changes);

        Assert.Equal([false, false, true], changes.Select(c => c.IsUsable));
        Assert.Equal(IPAddress.Parse("2001:2::5"), changes[2].Address);
    }

    [Fact]
    public void Other_message_types_are_skipped_and_truncated_or_lying_lengths_stop_the_parse_without_throwing()
    {
        byte[] other = Message(16 /* RTM_NEWLINK */, 2, IPAddress.Parse("198.18.0.1"));
        byte[] good = Message(NetlinkAddressMessages.NewAddress, 2, IPAddress.Parse("198.18.0.9"));
        var changes = new List<AddressChange>();
        Assert.Equal(0, NetlinkAddressMessages.Parse([.. other, .. good], changes));
        Assert.Single(changes);

        // Every prefix of a valid message, and a header claiming more than there is.
        for (int cut = 0; cut < good.Length; cut++)
        {
            changes.Clear();
            NetlinkAddressMessages.Parse(good.AsSpan(0, cut), changes);
            Assert.Empty(changes);
        }

        byte[] lying = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(lying, 4096);
        Assert.Equal(1, NetlinkAddressMessages.Parse(lying, changes));
        Assert.Empty(changes);
    }

    // nlmsghdr + ifaddrmsg + IFA_ADDRESS + IFA_LOCAL, as the kernel sends them (little-endian host).
    private static byte[] Message(ushort type, int index, IPAddress address)
    {
        byte[] a = address.GetAddressBytes();
        int attribute = 4 + a.Length;
        int aligned = (attribute + 3) & ~3;
        int length = 16 + 8 + (2 * aligned);
        byte[] m = new byte[length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), type);
        m[16] = (byte)(a.Length == 4 ? 2 : 10);
        m[17] = (byte)(a.Length == 4 ? 24 : 64);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(20), (uint)index);
        for (int i = 0; i < 2; i++)
        {
            int at = 24 + (i * aligned);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at), (ushort)attribute);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at + 2), (ushort)(i + 1));
            a.CopyTo(m, at + 4);
        }

        return m;
    }
}
