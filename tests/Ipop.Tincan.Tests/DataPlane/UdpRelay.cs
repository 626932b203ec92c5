using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// A man in the middle on 127.0.0.1: forwards datagrams between a node and <see cref="Target"/>, records what it
/// forwarded, and can re-send a recorded datagram (replay) or a modified one.
/// </summary>
internal sealed class UdpRelay : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Thread _thread;
    private volatile bool _stop;
    private IPEndPoint? _client;

    public UdpRelay(IPEndPoint target)
    {
        Target = target;
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _socket.ReceiveTimeout = 200;
        _thread = new Thread(Run) { IsBackground = true };
        _thread.Start();
    }

    public IPEndPoint Target { get; }

    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Datagrams forwarded toward <see cref="Target"/>.</summary>
    public ConcurrentQueue<byte[]> ToTarget { get; } = new();

    public void SendToTarget(byte[] datagram) => _socket.SendTo(datagram, Target);

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }

    private void Run()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop)
        {
            int n;
            try
            {
                n = _socket.ReceiveFrom(buffer, ref any);
            }
            catch (SocketException)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            var from = (IPEndPoint)any;
            byte[] datagram = buffer[..n];
            if (from.Equals(Target))
            {
                if (_client is not null)
                {
                    _socket.SendTo(datagram, _client);
                }
            }
            else
            {
                _client = from;
                ToTarget.Enqueue(datagram);
                _socket.SendTo(datagram, Target);
            }
        }
    }
}
