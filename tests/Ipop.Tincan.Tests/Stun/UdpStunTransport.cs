using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.Stun;

/// <summary>
/// A minimal UDP pump for tests: one socket, one receive loop that hands every datagram to an
/// <see cref="IDatagramReceiver"/>. The node's shared socket (<c>UdpMux</c> with <c>NatTraversal</c>) plays the
/// same role in production. Endpoints are cached both ways so steady traffic does not allocate.
/// </summary>
internal sealed class UdpStunTransport : IDatagramSender, IAsyncDisposable
{
    private const int MaxCachedEndPoints = 1024;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _sendAddresses = new();
    private IDatagramReceiver? _receiver;
    private Task? _loop;
    private long _handlerFailures;

    public UdpStunTransport(IPEndPoint bind)
    {
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (bind.Address.Equals(IPAddress.IPv6Any))
            {
                // One socket for both families, as the node's shared socket.
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

    /// <summary>Datagrams whose handler threw: a bug, counted, never fatal to the loop.</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    public void Start(IDatagramReceiver receiver)
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("Already started.");
        }

        _receiver = receiver;
        _loop = Task.Run(ReceiveLoopAsync);
    }

    public SocketAddress? ToSocketAddress(IPEndPoint to) =>
        _socket.AddressFamily == AddressFamily.InterNetworkV6 && to.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(to.Address.MapToIPv6(), to.Port).Serialize()
            : to.Serialize();

    public bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        if (!_sendAddresses.TryGetValue(to, out SocketAddress? address))
        {
            if (_sendAddresses.Count >= MaxCachedEndPoints)
            {
                _sendAddresses.Clear();
            }

            address = ToSocketAddress(to)!;
            _sendAddresses[to] = address;
        }

        return Send(datagram, address);
    }

    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            return _socket.SendTo(datagram, SocketFlags.None, to) == datagram.Length;
        }
        catch (SocketException)
        {
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
            catch (SocketException)
            {
                // ICMP port unreachable from an earlier send surfaces here as ConnectionReset on Linux: not fatal.
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
#pragma warning disable CA1031 // The receive loop must survive a faulty handler; the failure is counted.
            catch (Exception)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _handlerFailures);
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
}
