using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ipop.Tap.Interop;

namespace Ipop.Tap.Netlink;

/// <summary>
/// A NETLINK_ROUTE socket that sends one configuration request at a time and waits for the kernel's
/// acknowledgement, turning a negative ack into a <see cref="VirtualInterfaceException"/> that names the
/// operation and the errno (<c>Setting MTU 70000 on ipop0 failed: Invalid argument (EINVAL)</c>).
/// </summary>
/// <remarks>
/// A netlink socket belongs to the network namespace of the thread that created it, so a device keeps
/// the socket it was configured with and later changes land in the same namespace from any thread.
/// Not a hot path: requests are serialized by a lock.
/// </remarks>
internal sealed class RtNetlinkSocket : IDisposable
{
    private const int RequestBufferSize = 128;
    private const int ReceiveBufferSize = 16 * 1024;
    private const int AckTimeoutMilliseconds = 5000;

    private readonly FileDescriptorHandle _handle;
    private readonly byte[] _receiveBuffer = new byte[ReceiveBufferSize];
    private readonly Lock _lock = new();
    private uint _sequence;

    private RtNetlinkSocket(FileDescriptorHandle handle)
    {
        _handle = handle;
        _sequence = (uint)Environment.TickCount;
    }

    /// <summary>Opens and binds a NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    /// <exception cref="VirtualInterfaceException">The socket could not be opened.</exception>
    public static unsafe RtNetlinkSocket Open()
    {
        int fd = Libc.Socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Libc.NETLINK_ROUTE);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VirtualInterfaceException($"Opening a NETLINK_ROUTE socket failed: {Errno.Describe(errno)}") { ErrorNumber = errno };
        }

        var handle = new FileDescriptorHandle(fd);
        try
        {
            // Extended acks carry the kernel's own explanation ("MTU greater than device maximum"); best effort,
            // older kernels simply reject the option.
            int one = 1;
            _ = Libc.SetSockOpt(fd, Libc.SOL_NETLINK, Libc.NETLINK_EXT_ACK, &one, sizeof(int));

            // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; }: pid 0 lets the kernel pick our port id.
            byte* address = stackalloc byte[12];
            new Span<byte>(address, 12).Clear();
            *(ushort*)address = Libc.AF_NETLINK;
            if (Libc.Bind(fd, address, 12) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new VirtualInterfaceException($"Binding a NETLINK_ROUTE socket failed: {Errno.Describe(errno)}") { ErrorNumber = errno };
            }

            return new RtNetlinkSocket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Sets the MTU (IFLA_MTU).</summary>
    public void SetMtu(int index, int mtu, string name)
    {
        uint seq = NextSequence();
        var writer = new NetlinkMessageWriter(stackalloc byte[RequestBufferSize], Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, seq);
        writer.WriteInterfaceInfo(Rtnl.AF_UNSPEC, index, 0, 0);
        writer.WriteAttribute(Rtnl.IFLA_MTU, (uint)mtu);
        Execute(writer.Message, seq, $"Setting MTU {mtu} on {name}");
    }

    /// <summary>Enslaves the interface to a bridge (IFLA_MASTER), as <c>ip link set dev X master BR</c> does.</summary>
    public void SetMaster(int index, int masterIndex, string name, string masterName)
    {
        uint seq = NextSequence();
        var writer = new NetlinkMessageWriter(stackalloc byte[RequestBufferSize], Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, seq);
        writer.WriteInterfaceInfo(Rtnl.AF_UNSPEC, index, 0, 0);
        writer.WriteAttribute(Rtnl.IFLA_MASTER, (uint)masterIndex);
        Execute(writer.Message, seq, $"Attaching {name} to bridge {masterName}");
    }

    /// <summary>Sets the link-layer address (IFLA_ADDRESS); TAP only.</summary>
    public void SetMacAddress(int index, PhysicalAddress mac, string name)
    {
        uint seq = NextSequence();
        var writer = new NetlinkMessageWriter(stackalloc byte[RequestBufferSize], Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, seq);
        writer.WriteInterfaceInfo(Rtnl.AF_UNSPEC, index, 0, 0);
        writer.WriteAttribute(Rtnl.IFLA_ADDRESS, mac.GetAddressBytes());
        Execute(writer.Message, seq, $"Setting MAC address {FormatMac(mac)} on {name}");
    }

    /// <summary>Sets or clears IFF_UP; the change mask makes the kernel leave every other flag alone.</summary>
    public void SetUp(int index, bool up, string name)
    {
        uint seq = NextSequence();
        var writer = new NetlinkMessageWriter(stackalloc byte[RequestBufferSize], Rtnl.RTM_NEWLINK, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, seq);
        writer.WriteInterfaceInfo(Rtnl.AF_UNSPEC, index, up ? Rtnl.IFF_UP : 0, Rtnl.IFF_UP);
        Execute(writer.Message, seq, up ? $"Bringing {name} up" : $"Bringing {name} down");
    }

    /// <summary>Adds an address (RTM_NEWADDR with NLM_F_EXCL, like <c>ip addr add</c>: an existing one is EEXIST).</summary>
    public void AddAddress(int index, InterfaceAddress address, string name)
    {
        uint seq = NextSequence();
        var writer = new NetlinkMessageWriter(
            stackalloc byte[RequestBufferSize], Rtnl.RTM_NEWADDR, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK | Rtnl.NLM_F_CREATE | Rtnl.NLM_F_EXCL, seq);
        WriteAddress(ref writer, index, address, withFlags: true);
        Execute(writer.Message, seq, $"Adding address {address} to {name}");
    }

    /// <summary>Removes an address (RTM_DELADDR).</summary>
    public void RemoveAddress(int index, InterfaceAddress address, string name)
    {
        uint seq = NextSequence();
        var writer = new NetlinkMessageWriter(stackalloc byte[RequestBufferSize], Rtnl.RTM_DELADDR, Rtnl.NLM_F_REQUEST | Rtnl.NLM_F_ACK, seq);
        WriteAddress(ref writer, index, address, withFlags: false);
        Execute(writer.Message, seq, $"Removing address {address} from {name}");
    }

    /// <summary>Encodes the ifaddrmsg and attributes of an address request (shared with the encoding tests).</summary>
    internal static void WriteAddress(ref NetlinkMessageWriter writer, int index, InterfaceAddress address, bool withFlags)
    {
        bool v6 = address.Address.AddressFamily == AddressFamily.InterNetworkV6;
        Span<byte> bytes = stackalloc byte[16];
        _ = address.Address.TryWriteBytes(bytes, out int written);
        bytes = bytes[..written];

        // IPv6 duplicate address detection would keep the address "tentative" (unusable) for about a second;
        // on a point-to-point overlay interface there is nobody to collide with (RFC 4862 section 5.4 allows
        // skipping DAD when DupAddrDetectTransmits is zero, which is what IFA_F_NODAD asks for per address).
        uint flags = v6 && withFlags ? Rtnl.IFA_F_NODAD : 0;
        writer.WriteAddressInfo(v6 ? Rtnl.AF_INET6 : Rtnl.AF_INET, (byte)address.PrefixLength, (byte)flags, Rtnl.RT_SCOPE_UNIVERSE, index);

        // Like iproute2: IFA_LOCAL is the interface's own address, IFA_ADDRESS the same unless point-to-point peer.
        writer.WriteAttribute(Rtnl.IFA_LOCAL, bytes);
        writer.WriteAttribute(Rtnl.IFA_ADDRESS, bytes);
        if (flags != 0)
        {
            writer.WriteAttribute(Rtnl.IFA_FLAGS, flags);
        }
    }

    /// <summary>Sends one request and waits for its acknowledgement.</summary>
    /// <exception cref="VirtualInterfaceException">The kernel rejected the request or did not answer.</exception>
    internal unsafe void Execute(ReadOnlySpan<byte> request, uint sequence, string operation)
    {
        lock (_lock)
        {
            bool added = false;
            _handle.DangerousAddRef(ref added);
            try
            {
                int fd = _handle.Fd;
                Send(fd, request, operation);
                WaitForAck(fd, sequence, operation);
            }
            finally
            {
                if (added)
                {
                    _handle.DangerousRelease();
                }
            }
        }
    }

    public void Dispose() => _handle.Dispose();

    internal static string FormatMac(PhysicalAddress mac) => string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    private uint NextSequence() => Interlocked.Increment(ref _sequence);

    private static unsafe void Send(int fd, ReadOnlySpan<byte> request, string operation)
    {
        byte* kernel = stackalloc byte[12];
        new Span<byte>(kernel, 12).Clear();
        *(ushort*)kernel = Libc.AF_NETLINK;
        for (int attempt = 0; ; attempt++)
        {
            nint sent;
            fixed (byte* p = request)
            {
                sent = Libc.SendTo(fd, p, (nuint)request.Length, 0, kernel, 12);
            }

            if (sent == request.Length)
            {
                return;
            }

            int errno = sent < 0 ? Marshal.GetLastPInvokeError() : Errno.EMSGSIZE;
            if (errno == Errno.EINTR && attempt < 10)
            {
                continue;
            }

            throw new VirtualInterfaceException($"{operation} failed: sending the netlink request: {Errno.Describe(errno)}") { ErrorNumber = errno };
        }
    }

    private unsafe void WaitForAck(int fd, uint sequence, string operation)
    {
        long deadline = Stopwatch.GetTimestamp() + (AckTimeoutMilliseconds * Stopwatch.Frequency / 1000);
        while (true)
        {
            int remaining = (int)Math.Max(0, (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency);
            if (remaining == 0)
            {
                throw new VirtualInterfaceException($"{operation} failed: the kernel did not acknowledge the netlink request within {AckTimeoutMilliseconds} ms.") { ErrorNumber = Errno.ETIMEDOUT };
            }

            Libc.PollFd pfd = new() { Fd = fd, Events = Libc.POLLIN };
            int ready = Libc.Poll(&pfd, 1, remaining);
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                throw new VirtualInterfaceException($"{operation} failed: waiting for the netlink ack: {Errno.Describe(errno)}") { ErrorNumber = errno };
            }

            if (ready == 0)
            {
                continue;
            }

            nint received;
            fixed (byte* p = _receiveBuffer)
            {
                received = Libc.Recv(fd, p, (nuint)_receiveBuffer.Length, Libc.MSG_DONTWAIT);
            }

            if (received < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Errno.EINTR or Errno.EAGAIN)
                {
                    continue;
                }

                throw new VirtualInterfaceException($"{operation} failed: reading the netlink ack: {Errno.Describe(errno)}") { ErrorNumber = errno };
            }

            if (NetlinkAck.TryRead(_receiveBuffer.AsSpan(0, (int)received), sequence, out int error, out string? kernelMessage))
            {
                if (error == 0)
                {
                    return;
                }

                string message = $"{operation} failed: {Errno.Describe(error)}";
                if (!string.IsNullOrEmpty(kernelMessage))
                {
                    message += $"; the kernel says: {kernelMessage}";
                }

                throw new VirtualInterfaceException(message) { ErrorNumber = error };
            }

            // An ack of an earlier, timed-out request or a stray message: keep waiting for ours.
        }
    }
}
