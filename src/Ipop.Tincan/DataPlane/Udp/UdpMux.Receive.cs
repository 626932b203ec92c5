using System.Net;
using System.Runtime.InteropServices;
using Ipop.Tincan.DataPlane.Udp;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>The receive side: recvmmsg into pinned slots, UDP_GRO splitting, dispatch and batch ends.</summary>
internal sealed unsafe partial class UdpMux
{
    /// <summary>Room for the UDP_GRO control message (an int) and anything else the kernel may add.</summary>
    private const int ReceiveControlBytes = 64;

    /// <summary>
    /// Receive slots when UDP_GRO is on. Each slot must hold a whole 64 KiB super-datagram (a shorter one truncates it),
    /// so 64 of them pin 4 MiB that the kernel and the GC touch even on an idle node; 16 hold up to ~700 full-size
    /// datagrams per recvmmsg, more than one call ever brings at the rates measured (docs/performance.md).
    /// </summary>
    internal const int GroReceiveSlots = 16;

    /// <summary>sizeof(struct sockaddr_in), the smallest source address the socket can report.</summary>
    private const int MinSockAddrLength = 16;

    // Handlers that got at least one datagram in the current batch: OnBatchEnd goes to each once. Only the receive
    // thread touches these.
    private readonly IDatagramHandler?[] _touched = new IDatagramHandler?[256];
    private int _touchedCount;
    private long _groMessagesReceived;
    private long _messagesSent;

    private void ReceiveLoopBatched()
    {
        int slots = GroEnabled ? Math.Min(BatchSize, GroReceiveSlots) : BatchSize;
        int slotBytes = _receiveSlotBytes;

        // Everything the kernel writes into lives on the pinned object heap, allocated once for the thread's life.
        byte[] buffers = GC.AllocateUninitializedArray<byte>(slots * slotBytes, pinned: true);
        byte[] names = GC.AllocateArray<byte>(slots * UdpInterop.SockAddrStorageSize, pinned: true);
        byte[] control = GC.AllocateArray<byte>(slots * ReceiveControlBytes, pinned: true);
        UdpInterop.IoVec[] iovecs = GC.AllocateArray<UdpInterop.IoVec>(slots, pinned: true);
        UdpInterop.MMsgHdr[] messages = GC.AllocateArray<UdpInterop.MMsgHdr>(slots, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);

        byte* buffersPtr = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(buffers, 0);
        byte* namesPtr = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(names, 0);
        byte* controlPtr = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(control, 0);
        var iovecsPtr = (UdpInterop.IoVec*)Marshal.UnsafeAddrOfPinnedArrayElement(iovecs, 0);
        var messagesPtr = (UdpInterop.MMsgHdr*)Marshal.UnsafeAddrOfPinnedArrayElement(messages, 0);
        for (int i = 0; i < slots; i++)
        {
            iovecsPtr[i].Base = buffersPtr + ((long)i * slotBytes);
            iovecsPtr[i].Length = (nuint)slotBytes;
            messagesPtr[i].Header.Name = namesPtr + (i * UdpInterop.SockAddrStorageSize);
            messagesPtr[i].Header.Iov = iovecsPtr + i;
            messagesPtr[i].Header.IovLength = 1;
            messagesPtr[i].Header.Control = controlPtr + (i * ReceiveControlBytes);
        }

        while (!_stopping)
        {
            for (int i = 0; i < slots; i++)
            {
                // The kernel overwrites these three with what it returned; reset them to the room there is.
                messagesPtr[i].Header.NameLength = UdpInterop.SockAddrStorageSize;
                messagesPtr[i].Header.ControlLength = GroEnabled ? (nuint)ReceiveControlBytes : 0;
                messagesPtr[i].Header.Flags = 0;
            }

            int received;
            int errno = 0;
            bool added = false;
            try
            {
                _socket.SafeHandle.DangerousAddRef(ref added);

                // MSG_WAITFORONE: block (up to SO_RCVTIMEO) for the first datagram only, then take what is queued.
                received = UdpInterop.recvmmsg(_socket.SafeHandle.DangerousGetHandle(), messagesPtr, (uint)slots, UdpInterop.MSG_WAITFORONE, null);
                if (received < 0)
                {
                    errno = Marshal.GetLastPInvokeError();
                }
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            finally
            {
                if (added)
                {
                    _socket.SafeHandle.DangerousRelease();
                }
            }

            if (received < 0)
            {
                if (_stopping)
                {
                    break;
                }

                if (errno == UdpInterop.EAGAIN)
                {
                    // The receive timeout, or a socket some other code made non-blocking: wait a bounded time.
                    WaitReadable();
                    continue;
                }

                if (errno == UdpInterop.EINTR)
                {
                    continue;
                }

                // ICMP errors surface as ECONNREFUSED and the like; they are not fatal for a UDP socket.
                _drops.Add(DropReason.ReceiveError);
                if (_drops.ShouldLog(DropReason.ReceiveError))
                {
                    LogBatchReceiveFailed(_logger, errno);
                }

                continue;
            }

            for (int i = 0; i < received && !_stopping; i++)
            {
                ref UdpInterop.MMsgHdr message = ref messagesPtr[i];
                if ((message.Header.Flags & UdpInterop.MSG_TRUNC) != 0)
                {
                    // Larger than a slot: cannot be one of our datagrams (the slot fits the MTU plus headers).
                    _drops.Add(DropReason.Oversize);
                    continue;
                }

                int nameLength = (int)message.Header.NameLength;
                if (nameLength < MinSockAddrLength || nameLength > from.Buffer.Length)
                {
                    // Not an IPv4 or IPv6 source (sockaddr_in is 16 bytes, sockaddr_in6 28): nothing to answer.
                    _drops.Add(DropReason.Malformed);
                    continue;
                }

                new ReadOnlySpan<byte>(message.Header.Name, nameLength).CopyTo(from.Buffer.Span);
                from.Size = nameLength;
                int length = (int)message.Length;
                int offset = i * slotBytes;
                int segment = GroEnabled ? UdpInterop.ReadGroSize(message.Header.Control, (int)message.Header.ControlLength) : 0;
                if (segment <= 0 || segment >= length)
                {
                    Dispatch(new Memory<byte>(buffers, offset, length), from);
                    continue;
                }

                // A GRO super-datagram: equal segments of gso_size, the last one possibly shorter.
                _groMessagesReceived++;
                for (int start = 0; start < length && !_stopping; start += segment)
                {
                    Dispatch(new Memory<byte>(buffers, offset + start, Math.Min(segment, length - start)), from);
                }
            }

            EndBatch();
        }

        // The kernel reaches these arrays only through the pointers taken above, which the GC does not see: without
        // this, an optimised build lets it collect them mid-loop (a collected pinned array's memory is reused, and the
        // next recvmmsg wrote through freed headers).
        GC.KeepAlive(buffers);
        GC.KeepAlive(names);
        GC.KeepAlive(control);
        GC.KeepAlive(iovecs);
        GC.KeepAlive(messages);
    }

    private void WaitReadable()
    {
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            var pfd = new UdpInterop.PollFd { Fd = (int)_socket.SafeHandle.DangerousGetHandle(), Events = UdpInterop.POLLIN };
            // Without a timeout on Linux: shutdown() (WakeReceiver) ends the wait.
            _ = UdpInterop.poll(&pfd, 1, OperatingSystem.IsLinux() ? -1 : ReceiveTimeoutMs / 2);
        }
        catch (ObjectDisposedException)
        {
            // Stopping: the loop sees the flag.
        }
        finally
        {
            if (added)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>Wakes a receive blocked in the kernel: shutdown() on a UDP socket makes a blocked recv return at once.</summary>
    private void WakeReceiver()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);

            // Fails with ENOTCONN on an unconnected socket, yet still marks it shut down and wakes sleepers
            // (net/ipv4/af_inet.c, inet_shutdown), which is all we want.
            _ = UdpInterop.shutdown(_socket.SafeHandle.DangerousGetHandle(), UdpInterop.SHUT_RDWR);
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
        finally
        {
            if (added)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }

    private void Dispatch(Memory<byte> datagram, SocketAddress from)
    {
        if (datagram.Length == 0)
        {
            return;
        }

        IDatagramHandler? handler = Volatile.Read(ref _handlers[datagram.Span[0]]);
        if (handler is null)
        {
            _drops.Add(DropReason.UnknownType);
            return;
        }

        Touch(handler);
        try
        {
            handler.OnDatagram(datagram, from);
        }
#pragma warning disable CA1031 // A bug in one handler must not stop the node's only receive loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            OnHandlerFailed(e);
        }
    }

    private void Touch(IDatagramHandler handler)
    {
        // A batch reaches two or three handlers at most: a linear scan beats any set.
        for (int i = _touchedCount - 1; i >= 0; i--)
        {
            if (ReferenceEquals(_touched[i], handler))
            {
                return;
            }
        }

        _touched[_touchedCount++] = handler;
    }

    private void EndBatch()
    {
        for (int i = 0; i < _touchedCount; i++)
        {
            IDatagramHandler handler = _touched[i]!;
            _touched[i] = null;
            try
            {
                handler.OnBatchEnd();
            }
#pragma warning disable CA1031 // As in Dispatch: the receive loop must survive a handler's bug.
            catch (Exception e)
#pragma warning restore CA1031
            {
                OnHandlerFailed(e);
            }
        }

        _touchedCount = 0;
    }

    // A handler that throws is a bug (bad input is validated and dropped, never thrown): logged with its stack trace
    // so it can be fixed, but at most once per 10 s, so a datagram that triggers it over and over does not flood the log.
    private void OnHandlerFailed(Exception e)
    {
        _drops.Add(DropReason.HandlerError);
        if (_drops.ShouldLog(DropReason.HandlerError))
        {
            LogHandlerFailed(_logger, _drops.Get(DropReason.HandlerError), e);
        }
    }
}
