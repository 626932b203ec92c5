using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The node's one UDP socket, shared by all links and (later) STUN and TURN. A dedicated thread receives with the
/// allocation-free <see cref="Socket.ReceiveFrom(Span{byte}, SocketFlags, SocketAddress)"/> and demultiplexes on
/// the first byte (RFC 7983): each byte value maps to one <see cref="IDatagramHandler"/>.
/// </summary>
internal sealed partial class UdpMux : IDisposable
{
    /// <summary>Largest UDP payload.</summary>
    public const int MaxDatagram = 65535;

    private const int SolSocket = 1;
    private const int SoSndBufForce = 32;
    private const int SoRcvBufForce = 33;

    private readonly Socket _socket;
    private readonly IDatagramHandler?[] _handlers = new IDatagramHandler?[256];
    private readonly ILogger _logger;
    private readonly DropCounters _drops;
    private Thread? _thread;
    private volatile bool _stopping;

    public UdpMux(IPAddress listenAddress, int port, int socketBufferBytes, DropCounters drops, ILogger logger)
    {
        _logger = logger;
        _drops = drops;
        _socket = Bind(listenAddress, port);
        SetBuffers(socketBufferBytes);

        // A bounded blocking receive lets the loop notice shutdown even where closing the socket does not
        // interrupt a blocked recvfrom.
        _socket.ReceiveTimeout = 500;
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

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
        _thread = new Thread(ReceiveLoop) { IsBackground = true, Name = "ipop-tincan-rx" };
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

    // TEMPORARY stub of the udpbatch helper's contract (replaced at merge).
    public int Send(Udp.DatagramBatch batch)
    {
        int sent = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            if (SendTo(batch[i].Span, batch.AddressOf(i)))
            {
                sent++;
            }
        }

        batch.Clear();
        return sent;
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

    private void ReceiveLoop()
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

            if (length == 0)
            {
                continue;
            }

            IDatagramHandler? handler = Volatile.Read(ref _handlers[buffer[0]]);
            if (handler is null)
            {
                _drops.Add(DropReason.UnknownType);
                continue;
            }

            try
            {
                handler.OnDatagram(buffer.AsMemory(0, length), from);
                handler.OnBatchEnd();
            }
#pragma warning disable CA1031 // A bug in one handler must not stop the node's only receive loop.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _drops.Add(DropReason.HandlerError);
                LogHandlerFailed(_logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "UDP send failed ({Error}); {Count} send failures so far")]
    private static partial void LogSendFailed(ILogger logger, SocketError error, long count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "UDP receive error {Error}")]
    private static partial void LogReceiveFailed(ILogger logger, SocketError error);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Could not set UDP socket buffers to {Bytes} bytes ({Error})")]
    private static partial void LogBufferFailed(ILogger logger, int bytes, SocketError error);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "A datagram handler threw; the datagram was dropped")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);
}
