using System.Buffers.Binary;
using System.Text;

namespace Ipop.Tap.Netlink;

/// <summary>Reads the kernel's NLMSG_ERROR acknowledgement (error 0 means success) out of a received datagram.</summary>
internal static class NetlinkAck
{
    /// <summary>
    /// Looks for the NLMSG_ERROR reply to <paramref name="sequence"/> among the messages in
    /// <paramref name="datagram"/>. Malformed or unrelated messages are skipped.
    /// </summary>
    /// <param name="datagram">One datagram as received from the netlink socket.</param>
    /// <param name="sequence">The sequence number of our request.</param>
    /// <param name="errno">0 on success, otherwise the positive errno the kernel reported.</param>
    /// <param name="kernelMessage">The extended-ack text (NLMSGERR_ATTR_MSG) if the kernel gave one.</param>
    /// <returns><c>true</c> if the acknowledgement was found.</returns>
    public static bool TryRead(ReadOnlySpan<byte> datagram, uint sequence, out int errno, out string? kernelMessage)
    {
        errno = 0;
        kernelMessage = null;
        int offset = 0;
        while (datagram.Length - offset >= Rtnl.HeaderSize)
        {
            ReadOnlySpan<byte> rest = datagram[offset..];
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(rest);
            if (length < Rtnl.HeaderSize || length > rest.Length)
            {
                return false;
            }

            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(rest[4..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(rest[6..]);
            uint seq = BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]);
            ReadOnlySpan<byte> payload = rest[Rtnl.HeaderSize..length];
            if (type == Rtnl.NLMSG_ERROR && seq == sequence && payload.Length >= 4)
            {
                errno = -BinaryPrimitives.ReadInt32LittleEndian(payload);
                kernelMessage = ReadExtendedMessage(payload, flags);
                return true;
            }

            offset += Rtnl.Align(length);
        }

        return false;
    }

    // struct nlmsgerr { int error; struct nlmsghdr msg; } then, unless NLM_F_CAPPED, the rest of the request,
    // then (with NLM_F_ACK_TLVS) attributes such as NLMSGERR_ATTR_MSG (linux/netlink.h, "extended ACK").
    private static string? ReadExtendedMessage(ReadOnlySpan<byte> payload, ushort flags)
    {
        if ((flags & Rtnl.NLM_F_ACK_TLVS) == 0 || payload.Length < 4 + Rtnl.HeaderSize)
        {
            return null;
        }

        int echoed = Rtnl.HeaderSize;
        if ((flags & Rtnl.NLM_F_CAPPED) == 0)
        {
            echoed = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        }

        int offset = 4 + Rtnl.Align(echoed);
        while (offset >= 0 && payload.Length - offset >= 4)
        {
            ushort length = BinaryPrimitives.ReadUInt16LittleEndian(payload[offset..]);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(payload[(offset + 2)..]);
            if (length < 4 || length > payload.Length - offset)
            {
                return null;
            }

            if ((type & 0x3FFF) == Rtnl.NLMSGERR_ATTR_MSG)
            {
                ReadOnlySpan<byte> text = payload.Slice(offset + 4, length - 4);
                int nul = text.IndexOf((byte)0);
                return Encoding.UTF8.GetString(nul < 0 ? text : text[..nul]);
            }

            offset += Rtnl.Align(length);
        }

        return null;
    }
}
