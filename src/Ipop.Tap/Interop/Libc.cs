using System.Runtime.InteropServices;

namespace Ipop.Tap.Interop;

/// <summary>The few libc calls a TUN/TAP device and an rtnetlink socket need (Linux x64/arm64 ABI).</summary>
/// <remarks>
/// "libc" is mapped by the .NET runtime to the platform C library (libc.so.6 on glibc). Every call sets
/// errno, read with <see cref="Marshal.GetLastPInvokeError"/> right after the call.
/// </remarks>
internal static unsafe partial class Libc
{
    private const string LibraryName = "libc";

    // fcntl.h / asm-generic
    internal const int O_RDWR = 0x2;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;

    // sys/eventfd.h
    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;

    // poll.h
    internal const short POLLIN = 0x1;
    internal const short POLLERR = 0x8;
    internal const short POLLHUP = 0x10;
    internal const short POLLNVAL = 0x20;

    // sys/socket.h
    internal const int AF_NETLINK = 16;
    internal const int SOCK_RAW = 3;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SO_RCVBUF = 8;
    internal const int SOL_NETLINK = 270;
    internal const int NETLINK_ROUTE = 0;
    internal const int NETLINK_EXT_ACK = 11;
    internal const int MSG_DONTWAIT = 0x40;

    // sched.h
    internal const int CLONE_NEWNET = 0x40000000;

    // linux/if_tun.h: _IOW('T', 202, int) and _IOR('T', 210, unsigned int).
    internal const uint TUNSETIFF = 0x400454ca;
    internal const uint TUNGETIFF = 0x800454d2;
    internal const short IFF_TUN = 0x0001;
    internal const short IFF_TAP = 0x0002;
    internal const short IFF_NO_PI = 0x1000;
    internal const short IFF_VNET_HDR = 0x4000;

    // linux/if_tun.h: _IOW('T', 208, unsigned int) and _IOW('T', 216, int).
    internal const uint TUNSETOFFLOAD = 0x400454d0;
    internal const uint TUNSETVNETHDRSZ = 0x400454d8;
    internal const uint TUN_F_CSUM = 0x01;
    internal const uint TUN_F_TSO4 = 0x02;
    internal const uint TUN_F_TSO6 = 0x04;
    internal const uint TUN_F_USO4 = 0x20;
    internal const uint TUN_F_USO6 = 0x40;

    // linux/sockios.h: the tun character device answers this one itself (drivers/net/tun.c).
    internal const uint SIOCGIFHWADDR = 0x8927;

    /// <summary>IFNAMSIZ: 15 bytes of name plus the terminating NUL.</summary>
    internal const int IFNAMSIZ = 16;

    /// <summary>sizeof(struct ifreq) on 64-bit Linux: the name and a 24-byte union.</summary>
    internal const int IfReqSize = 40;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport(LibraryName, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(LibraryName, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(LibraryName, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "writev", SetLastError = true)]
    internal static partial nint Writev(int fd, IoVec* vectors, int count);

    [LibraryImport(LibraryName, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(LibraryName, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(LibraryName, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint IfNameToIndex(string name);

    [LibraryImport(LibraryName, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(LibraryName, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, void* address, uint addressLength);

    [LibraryImport(LibraryName, EntryPoint = "sendto", SetLastError = true)]
    internal static partial nint SendTo(int fd, byte* buffer, nuint length, int flags, void* address, uint addressLength);

    [LibraryImport(LibraryName, EntryPoint = "recv", SetLastError = true)]
    internal static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(LibraryName, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int fd, int level, int name, void* value, uint valueLength);

    [LibraryImport(LibraryName, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(int fd, int namespaceType);
}
