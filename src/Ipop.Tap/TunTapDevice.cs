using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Ipop.Tap.Interop;
using Ipop.Tap.Netlink;
using Ipop.Tap.Offload;
using Microsoft.Extensions.Logging;

namespace Ipop.Tap;

/// <summary>
/// A Linux TUN or TAP interface: a non-blocking fd on <c>/dev/net/tun</c> for packets and an rtnetlink
/// socket for configuration. Closing the fd removes the (non-persistent) interface.
/// </summary>
/// <remarks>
/// Reads poll the TUN fd together with an eventfd that <see cref="Dispose"/> and a cancelled read token signal, so a
/// blocked reader wakes at once on either, and waits without a timeout otherwise (TunTapDevice.Wake.cs).
/// </remarks>
internal sealed partial class TunTapDevice : IVirtualInterface
{
    /// <summary>Destination and source MAC plus EtherType; a TAP frame is this much larger than the MTU (no FCS, no VLAN tag).</summary>
    internal const int EthernetHeaderLength = 14;

    private const string TunPath = "/dev/net/tun";
    private static readonly TimeSpan WriteErrorLogInterval = TimeSpan.FromSeconds(10);

    private readonly FileDescriptorHandle _tun;
    private readonly FileDescriptorHandle _wake;
    private readonly RtNetlinkSocket _netlink;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _configLock = new();
    private readonly EventHandler _onProcessExit;
    private long _writeDrops;
    private long _writeDropsLogged;
    private long _lastWriteErrorLogTimestamp;
    private int _disposed;

    private TunTapDevice(
        FileDescriptorHandle tun, FileDescriptorHandle wake, RtNetlinkSocket netlink, string name, VirtualInterfaceMode mode, int index, ILogger logger, TimeProvider timeProvider, OffloadState offload)
    {
        _tun = tun;
        _wake = wake;
        _netlink = netlink;
        Name = name;
        Mode = mode;
        Index = index;
        _logger = logger;
        _timeProvider = timeProvider;
        _onProcessExit = (_, _) => Dispose();
        _lastWriteErrorLogTimestamp = timeProvider.GetTimestamp() - (long)(WriteErrorLogInterval.TotalSeconds * timeProvider.TimestampFrequency);
        _lastOffloadDropLogTimestamp = _lastWriteErrorLogTimestamp;
        Offload = offload;
        int l3Offset = mode == VirtualInterfaceMode.Tap ? EthernetHeaderLength : 0;
        _coalescer = new SegmentCoalescer(l3Offset, offload.Tso, udp: offload.Uso);
        if (offload.VnetHeader)
        {
            // Pinned once for the device's life: the kernel copies into and out of them on every read and write.
            _readFrame = GC.AllocateUninitializedArray<byte>(_coalescer.MaxFrameLength, pinned: true);
            _writeFrame = GC.AllocateUninitializedArray<byte>(_coalescer.MaxFrameLength, pinned: true);
        }
    }

    public string Name { get; }

    public VirtualInterfaceMode Mode { get; }

    public int Mtu { get; private set; }

    public int Index { get; }

    public PhysicalAddress? MacAddress { get; private set; }

    /// <summary>Packets or frames the kernel refused on <see cref="Write"/> (or written after dispose).</summary>
    internal long WriteDrops => Interlocked.Read(ref _writeDrops);

    /// <summary>Creates the device in the calling thread's network namespace and configures it.</summary>
    /// <exception cref="VirtualInterfaceException">Creation or configuration failed; nothing is left behind.</exception>
    public static TunTapDevice Create(VirtualInterfaceOptions options, ILogger logger, TimeProvider timeProvider) =>
        Create(options, logger, timeProvider, TunPath);

    /// <summary>As <see cref="Create(VirtualInterfaceOptions, ILogger, TimeProvider)"/> with another clone device path (tests of the error path).</summary>
    internal static TunTapDevice Create(VirtualInterfaceOptions options, ILogger logger, TimeProvider timeProvider, string tunPath) =>
        Create(options, logger, timeProvider, tunPath, OffloadFault.None);

    /// <summary>As <see cref="Create(VirtualInterfaceOptions, ILogger, TimeProvider)"/>, pretending the kernel refused parts of the offload setup (tests of each fallback).</summary>
    internal static TunTapDevice Create(VirtualInterfaceOptions options, ILogger logger, TimeProvider timeProvider, OffloadFault faults) =>
        Create(options, logger, timeProvider, TunPath, faults);

    private static TunTapDevice Create(VirtualInterfaceOptions options, ILogger logger, TimeProvider timeProvider, string tunPath, OffloadFault faults)
    {
        VirtualInterfaceOptionsValidator.Validate(options);

        FileDescriptorHandle? tun = null;
        FileDescriptorHandle? wake = null;
        RtNetlinkSocket? netlink = null;
        TunTapDevice? device = null;
        try
        {
            tun = OpenTun(tunPath);
            string name = AttachInterface(tun, options);
            OffloadState offload = options.Offload ? OffloadState.Negotiate(tun.Fd, faults) : OffloadState.Disabled;
            int index = GetIndex(name);
            wake = OpenEventFd(name);
            netlink = RtNetlinkSocket.Open();
            device = new TunTapDevice(tun, wake, netlink, name, options.Mode, index, logger, timeProvider, offload);
            device.Configure(options);
            AppDomain.CurrentDomain.ProcessExit += device._onProcessExit;
            Log.Created(logger, name, options.Mode, index, device.Mtu);
            Log.Offloads(logger, name, offload.Description);
            return device;
        }
        catch
        {
            if (device is not null)
            {
                device.Dispose();
            }
            else
            {
                netlink?.Dispose();
                wake?.Dispose();
                tun?.Dispose();
            }

            throw;
        }
    }

    public int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        EnsureBufferFits(buffer.Length, nameof(buffer));
        bool tunAdded = false;
        bool wakeAdded = false;
        try
        {
            AddRef(_tun, ref tunAdded);
            AddRef(_wake, ref wakeAdded);
            return ReadOne(buffer, block: true, cancellationToken);
        }
        finally
        {
            if (wakeAdded)
            {
                _wake.DangerousRelease();
            }

            if (tunAdded)
            {
                _tun.DangerousRelease();
            }
        }
    }

    /// <summary>A TUN/TAP read copies as much of the packet as fits and reports only that much, so a short buffer
    /// would silently cut packets; refuse it up front (a programmer error, not a per-packet condition).</summary>
    private void EnsureBufferFits(int length, string parameterName)
    {
        int largest = Mtu + (Mode == VirtualInterfaceMode.Tap ? EthernetHeaderLength : 0);
        if (length < largest)
        {
            throw new ArgumentException(BufferTooSmallMessage(length, largest), parameterName);
        }
    }

    /// <summary>
    /// One read(2) from the device into <paramref name="buffer"/>; the caller holds references on both fds.
    /// Blocking waits in poll(2) with the wake eventfd; otherwise returns -1 when nothing is queued.
    /// </summary>
    private unsafe int ReadRaw(Span<byte> buffer, bool block, CancellationToken cancellationToken)
    {
        int tunFd = _tun.Fd;
        Libc.PollFd* fds = stackalloc Libc.PollFd[2];
        fds[0] = new Libc.PollFd { Fd = tunFd, Events = Libc.POLLIN };
        fds[1] = new Libc.PollFd { Fd = _wake.Fd, Events = Libc.POLLIN };
        if (block)
        {
            WakeOnCancel(cancellationToken);
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ThrowIfDisposed();

            nint n;
            fixed (byte* p = buffer)
            {
                n = Libc.Read(tunFd, p, (nuint)buffer.Length);
            }

            if (n >= 0)
            {
                return (int)n;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }

            if (errno != Errno.EAGAIN)
            {
                throw new VirtualInterfaceException($"Reading from {Name} failed: {Errno.Describe(errno)}") { ErrorNumber = errno };
            }

            if (!block)
            {
                return -1;
            }

            fds[0].Revents = 0;
            fds[1].Revents = 0;
            if (Libc.Poll(fds, 2, -1) < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR)
                {
                    throw new VirtualInterfaceException($"Waiting for packets on {Name} failed: {Errno.Describe(errno)}") { ErrorNumber = errno };
                }
            }
            else if ((fds[1].Revents & Libc.POLLIN) != 0)
            {
                DrainWake();
            }
        }
    }

    public bool Write(ReadOnlySpan<byte> packet)
    {
        bool added = false;
        try
        {
            // DangerousAddRef throws once the handle is closed; a write racing dispose is a drop, not a crash.
            if (Volatile.Read(ref _disposed) != 0)
            {
                return Drop(0, 1);
            }

            _tun.DangerousAddRef(ref added);

            // With IFF_VNET_HDR every write starts with a header; all zero means GSO_NONE with a complete checksum.
            ReadOnlySpan<byte> noOffload = stackalloc byte[VirtioNetHeader.Size];
            int errno = WriteRaw(Offload.VnetHeader ? noOffload : [], packet);
            return errno == 0 || Drop(errno, 1);
        }
        catch (ObjectDisposedException)
        {
            return Drop(0, 1);
        }
        finally
        {
            if (added)
            {
                _tun.DangerousRelease();
            }
        }
    }

    /// <summary>One write(2) (writev(2) with a header) of a whole frame; the caller holds a reference on the fd.</summary>
    /// <returns>0, or the errno of the failure.</returns>
    private unsafe int WriteRaw(ReadOnlySpan<byte> header, ReadOnlySpan<byte> packet)
    {
        int total = header.Length + packet.Length;
        Libc.IoVec* iov = stackalloc Libc.IoVec[2];
        for (int attempt = 0; attempt < 3; attempt++)
        {
            nint n;
            fixed (byte* h = header)
            fixed (byte* p = packet)
            {
                if (header.IsEmpty)
                {
                    n = Libc.Write(_tun.Fd, p, (nuint)packet.Length);
                }
                else
                {
                    iov[0] = new Libc.IoVec { Base = h, Length = (nuint)header.Length };
                    iov[1] = new Libc.IoVec { Base = p, Length = (nuint)packet.Length };
                    n = Libc.Writev(_tun.Fd, iov, 2);
                }
            }

            if (n == total)
            {
                return 0;
            }

            int errno = n < 0 ? Marshal.GetLastPInvokeError() : Errno.EMSGSIZE;
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }

        return Errno.EINTR;
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return new ValueTask<int>(Task.Run(() => Read(buffer.Span, cancellationToken), cancellationToken));
    }

    public void AddAddress(InterfaceAddress address)
    {
        ValidateAddress(address);
        lock (_configLock)
        {
            ThrowIfDisposed();
            if (address.Address.AddressFamily == AddressFamily.InterNetworkV6 && Mtu < VirtualInterfaceOptionsValidator.MinIpv6Mtu)
            {
                throw new VirtualInterfaceException($"Adding address {address} to {Name} failed: the MTU {Mtu} is below {VirtualInterfaceOptionsValidator.MinIpv6Mtu}, the minimum for IPv6 (RFC 8200).");
            }

            _netlink.AddAddress(Index, address, Name);
        }
    }

    public void RemoveAddress(InterfaceAddress address)
    {
        ValidateAddress(address);
        lock (_configLock)
        {
            ThrowIfDisposed();
            _netlink.RemoveAddress(Index, address, Name);
        }
    }

    public void SetMtu(int mtu)
    {
        lock (_configLock)
        {
            ThrowIfDisposed();
            VirtualInterfaceOptionsValidator.ValidateMtu(Mode, mtu, hasIpv6: false, "mtu");
            _netlink.SetMtu(Index, mtu, Name);
            Mtu = mtu;
        }
    }

    public void SetUp(bool up)
    {
        lock (_configLock)
        {
            ThrowIfDisposed();
            _netlink.SetUp(Index, up, Name);
        }
    }

    public void Dispose()
    {
        // Under the configuration lock: a configuration call in progress finishes on a live netlink socket first, and
        // a second (or concurrent) dispose returns only once the first has closed everything.
        lock (_configLock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            AppDomain.CurrentDomain.ProcessExit -= _onProcessExit;

            // Wake a reader blocked in poll(2); it sees _disposed and releases its fd references, and only then
            // does the SafeHandle really close the TUN fd (which unregisters the interface).
            SignalWake();
            lock (_wakeLock)
            {
                _wakeRegistration.Dispose();
            }

            _tun.Dispose();
            _netlink.Dispose();
            _wake.Dispose();
        }

        Log.Removed(_logger, Name);
    }

    /// <summary>What every call on a removed device gets: names the public type and the device, not this class.</summary>
    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            ThrowDisposed();
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowDisposed() =>
        throw new ObjectDisposedException(
            nameof(IVirtualInterface),
            $"Interface '{Name}' was disposed, which removed the device; create a new one with IVirtualInterfaceFactory.Create.");

    private string BufferTooSmallMessage(int length, int largest) =>
        Mode == VirtualInterfaceMode.Tap
            ? $"The buffer holds {length} bytes but {Name} delivers frames of up to {largest} bytes (MTU {Mtu} plus the {EthernetHeaderLength}-byte Ethernet header); the kernel would silently truncate larger ones."
            : $"The buffer holds {length} bytes but {Name} delivers packets of up to {largest} bytes (its MTU); the kernel would silently truncate larger ones.";

    private static void AddRef(FileDescriptorHandle handle, ref bool added)
    {
        handle.DangerousAddRef(ref added);
    }

    private static void ValidateAddress(InterfaceAddress address)
    {
        if (address.Address is null)
        {
            throw new ArgumentException("The address is an empty InterfaceAddress (default value).", nameof(address));
        }
    }

    private bool Drop(int errno, int count)
    {
        long drops = Interlocked.Add(ref _writeDrops, count);
        long now = _timeProvider.GetTimestamp();
        long last = Interlocked.Read(ref _lastWriteErrorLogTimestamp);
        if (_timeProvider.GetElapsedTime(last, now) >= WriteErrorLogInterval
            && Interlocked.CompareExchange(ref _lastWriteErrorLogTimestamp, now, last) == last)
        {
            long previous = Interlocked.Exchange(ref _writeDropsLogged, drops);
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                Log.WriteRejected(_logger, Name, errno == 0 ? "interface disposed" : Errno.Describe(errno), drops - previous);
            }
        }

        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Created {Mode} interface {Name} (index {Index}, MTU {Mtu})")]
        public static partial void Created(ILogger logger, string name, VirtualInterfaceMode mode, int index, int mtu);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Removed interface {Name}")]
        public static partial void Removed(ILogger logger, string name);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Interface {Name} rejected written packets: {Reason}; {Drops} dropped since the last report")]
        public static partial void WriteRejected(ILogger logger, string name, string reason, long drops);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Interface {Name} offloads: {State}")]
        public static partial void Offloads(ILogger logger, string name, string state);

        [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Interface {Name} dropped a malformed offloaded frame: {Reason}; {Drops} dropped since the last report")]
        public static partial void OffloadFrameDropped(ILogger logger, string name, OffloadDropReason reason, long drops);
    }
}
