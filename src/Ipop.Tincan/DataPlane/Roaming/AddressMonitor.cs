using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane.Roaming;

/// <summary>
/// Tells when the machine's addresses change, without polling: an rtnetlink socket subscribed to the IPv4 and IPv6
/// address groups (RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, <c>rtnetlink(7)</c>), read by one thread that sleeps in
/// <c>poll</c> until the kernel has news or the monitor is disposed (an eventfd wakes it). So an idle node has no
/// wakeups for it at all.
/// </summary>
internal sealed unsafe partial class AddressMonitor : IDisposable
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkRoute = 0;
    private const uint GroupIpv4Address = 0x10;
    private const uint GroupIpv6Address = 0x100;
    private const int EfdCloexec = 0x80000;
    private const short PollIn = 1;
    private const int MsgDontWait = 0x40;
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const int Enobufs = 105;

    private readonly int _socket;
    private readonly int _wake;
    private readonly Action<IReadOnlyList<AddressChange>> _onChanges;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private int _disposed;

    private AddressMonitor(int socket, int wake, Action<IReadOnlyList<AddressChange>> onChanges, ILogger logger)
    {
        _socket = socket;
        _wake = wake;
        _onChanges = onChanges;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = "Ipop address monitor" };
    }

    /// <summary>
    /// Starts watching; <paramref name="onChanges"/> runs on the monitor's thread for each batch of changes (an
    /// overflow of the socket's queue reports one change with interface index 0: something changed, re-read everything).
    /// Null, with a warning logged, where rtnetlink is unavailable (not Linux, or a sandbox that forbids it).
    /// </summary>
    public static AddressMonitor? TryStart(Action<IReadOnlyList<AddressChange>> onChanges, ILogger logger)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        int socket = Socket(AfNetlink, SockRaw | SockCloexec, NetlinkRoute);
        if (socket < 0)
        {
            LogUnavailable(logger, "socket", Marshal.GetLastPInvokeError());
            return null;
        }

        var address = new SockAddrNetlink { Family = AfNetlink, Groups = GroupIpv4Address | GroupIpv6Address };
        if (Bind(socket, &address, sizeof(SockAddrNetlink)) != 0)
        {
            LogUnavailable(logger, "bind", Marshal.GetLastPInvokeError());
            _ = Close(socket);
            return null;
        }

        int wake = EventFd(0, EfdCloexec);
        if (wake < 0)
        {
            LogUnavailable(logger, "eventfd", Marshal.GetLastPInvokeError());
            _ = Close(socket);
            return null;
        }

        var monitor = new AddressMonitor(socket, wake, onChanges, logger);
        monitor._thread.Start();
        return monitor;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ulong one = 1;
        _ = Write(_wake, &one, sizeof(ulong));
        if (!_thread.Join(TimeSpan.FromSeconds(2)))
        {
            return; // leave the descriptors to the process rather than close them under a running read
        }

        _ = Close(_socket);
        _ = Close(_wake);
    }

    private void Run()
    {
        byte[] buffer = new byte[16 * 1024];
        var changes = new List<AddressChange>();
        PollFd* fds = stackalloc PollFd[2];
        while (Volatile.Read(ref _disposed) == 0)
        {
            fds[0] = new PollFd { Fd = _socket, Events = PollIn };
            fds[1] = new PollFd { Fd = _wake, Events = PollIn };
            if (Poll(fds, 2, -1) < 0)
            {
                int error = Marshal.GetLastPInvokeError();
                if (error == Eintr)
                {
                    continue;
                }

                LogFailed(_logger, "poll", error);
                return;
            }

            if (fds[1].Revents != 0)
            {
                return;
            }

            changes.Clear();
            fixed (byte* p = buffer)
            {
                // Everything queued, then one report: a renumbering is a delete and an add, often in one burst.
                for (int i = 0; i < 64; i++)
                {
                    nint n = Recv(_socket, p, buffer.Length, MsgDontWait);
                    if (n < 0)
                    {
                        int error = Marshal.GetLastPInvokeError();
                        if (error == Enobufs)
                        {
                            // The kernel dropped notifications: what changed is unknown, so report "something".
                            changes.Add(new AddressChange(true, 0, System.Net.IPAddress.None));
                            continue;
                        }

                        if (error is not (Eagain or Eintr))
                        {
                            LogFailed(_logger, "recv", error);
                            return;
                        }

                        break;
                    }

                    _ = NetlinkAddressMessages.Parse(new ReadOnlySpan<byte>(p, (int)n), changes);
                }
            }

            if (changes.Count > 0)
            {
                try
                {
                    _onChanges(changes);
                }
#pragma warning disable CA1031 // The monitor must outlive a failing handler: the next change is reported too.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogHandlerFailed(_logger, e);
                }
            }
        }
    }

    /// <summary>The name of interface <paramref name="index"/> (<c>if_indextoname</c>), or null when it is gone.</summary>
    public static string? InterfaceName(int index)
    {
        byte* name = stackalloc byte[16]; // IF_NAMESIZE
        return IndexToName((uint)index, name) is null ? null : Marshal.PtrToStringUTF8((nint)name);
    }

    [LibraryImport("libc", EntryPoint = "if_indextoname", SetLastError = true)]
    private static partial byte* IndexToName(uint index, byte* name);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, SockAddrNetlink* address, int length);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, void* buffer, nint length);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LoggerMessage(EventId = 140, Level = LogLevel.Warning, Message = "Address changes cannot be watched ({Call} failed, errno {Errno}): links recover from a network change only by their keepalives and timeouts")]
    private static partial void LogUnavailable(ILogger logger, string call, int errno);

    [LoggerMessage(EventId = 141, Level = LogLevel.Warning, Message = "The address monitor stopped ({Call} failed, errno {Errno})")]
    private static partial void LogFailed(ILogger logger, string call, int errno);

    [LoggerMessage(EventId = 142, Level = LogLevel.Error, Message = "Handling an address change threw")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);

    /// <summary>struct sockaddr_nl (linux/netlink.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrNetlink
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    /// <summary>struct pollfd (poll.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
