namespace Ipop.Tap.Netlink;

/// <summary>Constants of linux/netlink.h, linux/rtnetlink.h, linux/if_link.h and linux/if_addr.h.</summary>
internal static class Rtnl
{
    // struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }
    internal const int HeaderSize = 16;

    // Message types.
    internal const ushort NLMSG_NOOP = 1;
    internal const ushort NLMSG_ERROR = 2;
    internal const ushort NLMSG_DONE = 3;
    internal const ushort RTM_NEWLINK = 16;
    internal const ushort RTM_DELLINK = 17;
    internal const ushort RTM_GETLINK = 18;
    internal const ushort RTM_SETLINK = 19;
    internal const ushort RTM_NEWADDR = 20;
    internal const ushort RTM_DELADDR = 21;

    // Request flags.
    internal const ushort NLM_F_REQUEST = 0x1;
    internal const ushort NLM_F_ACK = 0x4;
    internal const ushort NLM_F_EXCL = 0x200;
    internal const ushort NLM_F_CREATE = 0x400;

    // Flags of an NLMSG_ERROR reply (extended acknowledgements, linux/netlink.h).
    internal const ushort NLM_F_CAPPED = 0x100;
    internal const ushort NLM_F_ACK_TLVS = 0x200;
    internal const ushort NLMSGERR_ATTR_MSG = 1;

    // struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }
    internal const int IfInfoMsgSize = 16;

    // struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
    internal const int IfAddrMsgSize = 8;

    // IFLA_* attributes.
    internal const ushort IFLA_ADDRESS = 1;
    internal const ushort IFLA_IFNAME = 3;
    internal const ushort IFLA_MTU = 4;
    internal const ushort IFLA_MASTER = 10;

    // IFA_* attributes and flags.
    internal const ushort IFA_ADDRESS = 1;
    internal const ushort IFA_LOCAL = 2;
    internal const ushort IFA_FLAGS = 8;
    internal const uint IFA_F_NODAD = 0x02;

    // Address families and net_device flags.
    internal const byte AF_UNSPEC = 0;
    internal const byte AF_INET = 2;
    internal const byte AF_INET6 = 10;
    internal const uint IFF_UP = 0x1;

    internal const byte RT_SCOPE_UNIVERSE = 0;

    /// <summary>NLMSG_ALIGN / NLA_ALIGN: netlink pads every header, payload and attribute to 4 bytes.</summary>
    internal static int Align(int length) => (length + 3) & ~3;
}
