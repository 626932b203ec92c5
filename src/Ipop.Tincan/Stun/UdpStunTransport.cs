using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Stun;

/// <summary>
/// A minimal UDP pump: one socket, one receive loop that hands every datagram to an
/// <see cref="IDatagramReceiver"/>. Tests and tools use it; the node's real data-plane socket plays the
/// same role in production. Endpoints are cached both ways so steady traffic does not allocate.
/// </summary>
internal sealed partial class UdpStunTransport : IDatagramSender, IAsyncDisposable
{
    private const int MaxCachedEndPoints = 1024;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _sendAddresses = new();
    private IDatagramReceiver? _receiver;
    private Task? _loop;

    public UdpStunTransport(IPEndPoint bind, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (bind.Address.Equals(IPAddress.IPv6Any))
            {
                // One socket for both families, as the node's shared socket will be.
                _socket.DualMode = true;
            }

            _socket.Bind(bind);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Datagrams whose handler threw: a bug, counted and logged, never fatal to the loop.</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    private long _handlerFailures;

    public void Start(IDatagramReceiver receiver)
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("Already started.");
        }

        _receiver = receiver;
        _loop = Task.Run(ReceiveLoopAsync);
    }

    public bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        if (!_sendAddresses.TryGetValue(to, out SocketAddress? address))
        {
            if (_sendAddresses.Count >= MaxCachedEndPoints)
            {
                _sendAddresses.Clear();
            }

            address = _socket.AddressFamily == AddressFamily.InterNetworkV6 && to.AddressFamily == AddressFamily.InterNetwork
                ? new IPEndPoint(to.Address.MapToIPv6(), to.Port).Serialize()
                : to.Serialize();
            _sendAddresses[to] = address;
        }

        try
        {
            return _socket.SendTo(datagram, SocketFlags.None, address) == datagram.Length;
        }
        catch (SocketException ex)
        {
            LogSendFailed(_logger, to, ex.SocketErrorCode);
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[65536];
        var address = new SocketAddress(_socket.AddressFamily);
        var fromCache = new Dictionary<SocketAddress, IPEndPoint>();
        CancellationToken token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, address, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                // ICMP port unreachable from an earlier send surfaces here as ConnectionReset on Linux: not fatal.
                LogReceiveFailed(_logger, ex.SocketErrorCode);
                continue;
            }

            if (!fromCache.TryGetValue(address, out IPEndPoint? from))
            {
                if (fromCache.Count >= MaxCachedEndPoints)
                {
                    fromCache.Clear();
                }

                from = (IPEndPoint)LocalEndPoint.Create(address);
                var key = new SocketAddress(address.Family, address.Size);
                address.Buffer.CopyTo(key.Buffer);
                fromCache[key] = from;
            }

            try
            {
                _receiver!.OnDatagram(buffer.AsSpan(0, received), from);
            }
#pragma warning disable CA1031 // The receive loop must survive a faulty handler; the failure is counted and logged.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _handlerFailures);
                LogHandlerFailed(_logger, from, ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "UDP send to {To} failed: {Error}")]
    private static partial void LogSendFailed(ILogger logger, IPEndPoint to, SocketError error);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "UDP receive failed: {Error}")]
    private static partial void LogReceiveFailed(ILogger logger, SocketError error);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Datagram handler failed for a datagram from {From}")]
    private static partial void LogHandlerFailed(ILogger logger, IPEndPoint from, Exception exception);
}
