using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.DataPlane.Udp;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The node's one UDP socket, shared by all links, STUN and TURN. A dedicated thread receives batches with recvmmsg
/// (UDP_GRO super-datagrams are split into their segments) and demultiplexes each datagram on its first byte
/// (RFC 7983): each byte value maps to one <see cref="IDatagramHandler"/>. <see cref="Send(DatagramBatch)"/> sends
/// batches with sendmmsg, merging runs of equal-sized datagrams to one destination with UDP_SEGMENT.
/// </summary>
/// <remarks>
/// What is on is probed once at start (<see cref="UdpOffloadProbe"/>) and logged in one line. Without Linux, or with
/// a batch size of 1, the socket falls back to one allocation-free recvfrom/sendto per datagram.
/// </remarks>
internal sealed partial class UdpMux : IDisposable
{
    /// <summary>Largest UDP payload.</summary>
    public const int MaxDatagram = 65535;

    private const int SolSocket = 1;
    private const int SoSndBufForce = 32;
    private const int SoRcvBufForce = 33;

    /// <summary>
    /// How long a blocked receive waits before it looks at the stop flag again where nothing else wakes it. On Linux
    /// <see cref="Dispose"/> wakes it with shutdown(2), so it sleeps without a timeout: an idle node costs no wakeups.
    /// </summary>
    private const int ReceiveTimeoutMs = 500;

    private readonly Socket _socket;
    private readonly IDatagramHandler?[] _handlers = new IDatagramHandler?[256];
    private readonly ILogger _logger;
    private readonly DropCounters _drops;
    private readonly int _receiveSlotBytes;
    private Thread? _thread;
    private volatile bool _stopping;
    private volatile bool _gsoEnabled;

    /// <param name="listenAddress">Local address; <c>0.0.0.0</c> or <c>::</c> open one dual-stack socket.</param>
    /// <param name="port">Local port; 0 picks a free one.</param>
    /// <param name="socketBufferBytes">SO_RCVBUF and SO_SNDBUF (forced past the sysctl limits when allowed).</param>
    /// <param name="drops">Where failed sends and bad datagrams are counted.</param>
    /// <param name="logger">Logs the offload line at start and rate-limited failures.</param>
    /// <param name="batchSize">Messages per recvmmsg/sendmmsg (1..1024); 1 means plain recvfrom/sendto.</param>
    /// <param name="segmentationOffload">Try UDP_SEGMENT (GSO) on send.</param>
    /// <param name="receiveOffload">Try UDP_GRO on receive.</param>
    /// <param name="mtu">The links' inner MTU: sizes the receive slots when GRO is off.</param>
    public UdpMux(
        IPAddress listenAddress,
        int port,
        int socketBufferBytes,
        DropCounters drops,
        ILogger logger,
        int batchSize = 64,
        bool segmentationOffload = true,
        bool receiveOffload = true,
        int mtu = VirtualInterfaceOptions.DefaultMtu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, 1024);
        _logger = logger;
        _drops = drops;
        _socket = Bind(listenAddress, port);
        try
        {
            SetBuffers(socketBufferBytes);

            // A bounded blocking receive lets the loop notice shutdown even where closing the socket does not
            // interrupt a blocked recvfrom. Not on Linux, where Dispose's shutdown() wakes it (WakeReceiver): an idle
            // node must not wake twice a second for nothing (issue 14).
            _socket.ReceiveTimeout = OperatingSystem.IsLinux() ? 0 : ReceiveTimeoutMs;
            LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
            UdpOffload offload = UdpOffloadProbe.Probe(_socket, batchSize, segmentationOffload, receiveOffload);
            BatchSize = offload.BatchSize;
            _gsoEnabled = offload.Gso;
            GroEnabled = offload.Gro;

            // One GRO message holds up to 64 KiB of segments; without GRO a slot needs one outer datagram: the inner
            // MTU plus Ipop's and TURN's headers, with room to spare for STUN and the odd larger peer.
            _receiveSlotBytes = GroEnabled ? MaxDatagram : Math.Max(2048, mtu + 256);
            LogOffload(_logger, LocalEndPoint, BatchSize, offload.GsoState, offload.GroState);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Messages per recvmmsg/sendmmsg; 1 when the socket uses plain recvfrom/sendto.</summary>
    internal int BatchSize { get; }

    /// <summary>Whether sends use UDP_SEGMENT; turns off for good when the egress device cannot checksum (EIO).</summary>
    internal bool GsoEnabled => _gsoEnabled;

    /// <summary>Whether UDP_GRO is on, so received messages may hold many datagrams.</summary>
    internal bool GroEnabled { get; }

    /// <summary>Test hook: the next this many GSO messages fail as if the device had no checksum offload (EIO).</summary>
    internal int SimulatedGsoFailures { get; set; }

    /// <summary>Messages handed to the kernel by <see cref="Send(DatagramBatch)"/> (a GSO message counts once).</summary>
    internal long MessagesSent => Interlocked.Read(ref _messagesSent);

    /// <summary>Received messages that the kernel had coalesced with UDP_GRO (more than one segment).</summary>
    internal long GroMessagesReceived => Interlocked.Read(ref _groMessagesReceived);

    public AddressFamily AddressFamily => _socket.AddressFamily;

    public bool DualMode => _socket.AddressFamily == AddressFamily.InterNetworkV6 && _socket.DualMode;

    /// <summary>The kernel's receive buffer size (Linux reports twice the requested value).</summary>
    public int ReceiveBufferSize => _socket.ReceiveBufferSize;

    /// <summary>The kernel's send buffer size.</summary>
    public int SendBufferSize => _socket.SendBufferSize;

    /// <summary>Routes datagrams whose first byte is in [<paramref name="first"/>, <paramref name="last"/>] to <paramref name="handler"/>.</summary>
    public void RegisterHandler(byte first, byte last, IDatagramHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        for (int b = first; b <= last; b++)
        {
            Volatile.Write(ref _handlers[b], handler);
        }
    }

    public void Start()
    {
        _thread = new Thread(BatchSize > 1 ? ReceiveLoopBatched : ReceiveLoopSingle) { IsBackground = true, Name = "ipop-tincan-rx" };
        _thread.Start();
    }

    /// <summary>Sends one datagram (any protocol: Ipop, STUN, TURN). Never throws.</summary>
    public bool SendTo(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            return _socket.SendTo(datagram, SocketFlags.None, to) == datagram.Length;
        }
        catch (SocketException e)
        {
            if (_stopping)
            {
                // Dispose shut the socket down first (to wake the receive thread): not a failure worth counting.
                return false;
            }

            _drops.Add(DropReason.SendFailed);
            if (_drops.ShouldLog(DropReason.SendFailed))
            {
                LogSendFailed(_logger, e.SocketErrorCode, _drops.Get(DropReason.SendFailed));
            }

            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The socket address for <paramref name="endPoint"/> in this socket's family, or <c>null</c> if it cannot reach it.</summary>
    public SocketAddress? ToSocketAddress(IPEndPoint endPoint)
    {
        IPAddress address = endPoint.Address;
        if (_socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                if (!DualMode)
                {
                    return null;
                }

                address = address.MapToIPv6();
            }
        }
        else if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (!address.IsIPv4MappedToIPv6)
            {
                return null;
            }

            address = address.MapToIPv4();
        }

        return new IPEndPoint(address, endPoint.Port).Serialize();
    }

    /// <summary>Converts for logs and stats (allocates; never on the data path).</summary>
    public static IPEndPoint? ToEndPoint(SocketAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        try
        {
            var ep = (IPEndPoint)new IPEndPoint(address.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0).Create(address);
            return ep.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(ep.Address.MapToIPv4(), ep.Port) : ep;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        WakeReceiver();
        _socket.Dispose();
        if (_thread is not null && _thread != Thread.CurrentThread)
        {
            _thread.Join(TimeSpan.FromSeconds(2));
        }
    }

    private static Socket Bind(IPAddress listenAddress, int port)
    {
        if ((listenAddress.Equals(IPAddress.Any) || listenAddress.Equals(IPAddress.IPv6Any)) && Socket.OSSupportsIPv6)
        {
            var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                dual.DualMode = true;
                dual.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                return dual;
            }
            catch (SocketException)
            {
                // IPv6 disabled on this host: fall back to IPv4 only.
                dual.Dispose();
            }

            listenAddress = IPAddress.Any;
        }

        var socket = new Socket(listenAddress.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(listenAddress, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void SetBuffers(int bytes)
    {
        // SO_*BUFFORCE (Linux, CAP_NET_ADMIN) goes past net.core.[rw]mem_max, which is only 208 KiB by default:
        // a small receive buffer is the first cause of drops at high rates.
        bool forced = false;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                Span<byte> value = stackalloc byte[4];
                BitConverter.TryWriteBytes(value, bytes);
                _socket.SetRawSocketOption(SolSocket, SoRcvBufForce, value);
                _socket.SetRawSocketOption(SolSocket, SoSndBufForce, value);
                forced = true;
            }
            catch (SocketException)
            {
                // Not privileged: fall through to the ordinary, clamped option.
            }
        }

        if (!forced)
        {
            try
            {
                _socket.ReceiveBufferSize = bytes;
                _socket.SendBufferSize = bytes;
            }
            catch (SocketException e)
            {
                LogBufferFailed(_logger, bytes, e.SocketErrorCode);
            }
        }
    }

    private void ReceiveLoopSingle()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);
        while (!_stopping)
        {
            int length;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
            {
                continue;
            }
            catch (SocketException e)
            {
                if (_stopping)
                {
                    break;
                }

                // ICMP errors surface as ConnectionReset/Refused on some stacks; they are not fatal for a UDP socket.
                _drops.Add(DropReason.ReceiveError);
                if (_drops.ShouldLog(DropReason.ReceiveError))
                {
                    LogReceiveFailed(_logger, e.SocketErrorCode);
                }

                continue;
            }
            catch (ObjectDisposedException)
            {
                break;
            }

            Dispatch(new Memory<byte>(buffer, 0, length), from);
            EndBatch();
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "UDP send failed ({Error}); {Count} send failures so far")]
    private static partial void LogSendFailed(ILogger logger, SocketError error, long count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "UDP receive error {Error}")]
    private static partial void LogReceiveFailed(ILogger logger, SocketError error);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Could not set UDP socket buffers to {Bytes} bytes ({Error})")]
    private static partial void LogBufferFailed(ILogger logger, int bytes, SocketError error);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "A datagram handler threw (a bug); the datagram was dropped ({Count} so far, logged at most every 10 s)")]
    private static partial void LogHandlerFailed(ILogger logger, long count, Exception exception);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "UDP socket {EndPoint}: batch {BatchSize}, GSO {Gso}, GRO {Gro}")]
    private static partial void LogOffload(ILogger logger, IPEndPoint endPoint, int batchSize, string gso, string gro);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "UDP segmentation offload failed (errno {Errno}, the device cannot checksum); sending one datagram per message from now on")]
    private static partial void LogGsoDisabled(ILogger logger, int errno);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "UDP send failed (errno {Errno}); {Count} send failures so far")]
    private static partial void LogBatchSendFailed(ILogger logger, int errno, long count);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "UDP receive error (errno {Errno})")]
    private static partial void LogBatchReceiveFailed(ILogger logger, int errno);
}
