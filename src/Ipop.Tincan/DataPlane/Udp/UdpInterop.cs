using System.Runtime.InteropServices;

namespace Ipop.Tincan.DataPlane.Udp;

/// <summary>
/// The libc calls and structures a batched, offloaded UDP socket needs (Linux; the layouts follow the C ABI of
/// both 64-bit and 32-bit targets because every pointer and size_t field is <see cref="nint"/>/<see cref="nuint"/>).
/// </summary>
/// <remarks>
/// "libc" is mapped by the .NET runtime to the platform C library. Every call sets errno, read with
/// <see cref="Marshal.GetLastPInvokeError"/> right after the call. All structures are blittable so that they can
/// live in arrays on the pinned object heap and be handed to the kernel by pointer.
/// </remarks>
internal static unsafe partial class UdpInterop
{
    private const string LibraryName = "libc";

    // netinet/udp.h: SOL_UDP is IPPROTO_UDP.
    internal const int SOL_UDP = 17;
    internal const int UDP_SEGMENT = 103;
    internal const int UDP_GRO = 104;

    /// <summary>UDP_MAX_SEGMENTS in the kernel (include/linux/udp.h): segments per GSO send.</summary>
    internal const int MaxSegments = 64;

    /// <summary>
    /// Payload bytes per GSO message. The kernel allows up to 65,535 minus headers; 65,000 leaves room for the
    /// IPv6 and UDP headers without computing them per family (wireguard-go uses the same bound).
    /// </summary>
    internal const int MaxGsoBytes = 65000;

    // sys/socket.h
    internal const int SOL_SOCKET = 1;
    internal const int SO_RCVTIMEO = 20;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_WAITFORONE = 0x10000;
    internal const int SHUT_RDWR = 2;

    // asm-generic/errno-base.h
    internal const int EINTR = 4;
    internal const int EIO = 5;
    internal const int EAGAIN = 11;
    internal const int EINVAL = 22;
    internal const int EMSGSIZE = 90;

    // poll.h
    internal const short POLLIN = 0x1;

    /// <summary>sizeof(struct sockaddr_storage): big enough for any address family.</summary>
    internal const int SockAddrStorageSize = 128;

    /// <summary>CMSG_ALIGN: control messages are aligned to size_t.</summary>
    internal static int CmsgAlign(int length) => (length + nint.Size - 1) & ~(nint.Size - 1);

    /// <summary>CMSG_LEN(0), the header before a control message's data.</summary>
    internal static int CmsgHeaderSize => CmsgAlign(sizeof(CmsgHdr));

    /// <summary>CMSG_SPACE(<paramref name="dataLength"/>).</summary>
    internal static int CmsgSpace(int dataLength) => CmsgHeaderSize + CmsgAlign(dataLength);

    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MMsgHdr
    {
        public MsgHdr Header;

        /// <summary>Bytes received or sent for this message, filled in by the kernel.</summary>
        public uint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct TimeVal
    {
        public nint Seconds;
        public nint Microseconds;
    }

    [LibraryImport(LibraryName, SetLastError = true)]
    internal static partial int recvmmsg(nint fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport(LibraryName, SetLastError = true)]
    internal static partial int sendmmsg(nint fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport(LibraryName, SetLastError = true)]
    internal static partial nint sendmsg(nint fd, MsgHdr* message, int flags);

    [LibraryImport(LibraryName, SetLastError = true)]
    internal static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(LibraryName, SetLastError = true)]
    internal static partial int shutdown(nint fd, int how);

    /// <summary>Writes a control message with a 16-bit value (UDP_SEGMENT's gso_size) at <paramref name="control"/>; returns its CMSG_SPACE.</summary>
    internal static int WriteUInt16Cmsg(byte* control, int level, int type, ushort value)
    {
        var header = (CmsgHdr*)control;
        header->Length = (nuint)(CmsgHeaderSize + sizeof(ushort));
        header->Level = level;
        header->Type = type;
        *(ushort*)(control + CmsgHeaderSize) = value;
        return CmsgSpace(sizeof(ushort));
    }

    /// <summary>
    /// The UDP_GRO segment size among the control messages of a received message, or 0. The kernel writes an
    /// int (net/ipv4/udp.c, udp_cmsg_recv); older code (wireguard-go) reads only the low 16 bits, which is the same
    /// value on little-endian hosts since gso_size never exceeds 65,535.
    /// </summary>
    internal static int ReadGroSize(byte* control, int controlLength)
    {
        int offset = 0;
        int header = CmsgHeaderSize;
        while (offset + header <= controlLength)
        {
            var cmsg = (CmsgHdr*)(control + offset);
            int length = (int)cmsg->Length;
            if (length < header || offset + length > controlLength)
            {
                return 0;
            }

            if (cmsg->Level == SOL_UDP && cmsg->Type == UDP_GRO)
            {
                int dataLength = length - header;
                byte* data = control + offset + header;
                return dataLength >= sizeof(int) ? *(int*)data : dataLength >= sizeof(ushort) ? *(ushort*)data : 0;
            }

            offset += CmsgAlign(length);
        }

        return 0;
    }
}
