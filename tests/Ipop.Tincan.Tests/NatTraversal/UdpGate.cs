using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.Tests.NatTraversal;

/// <summary>
/// A direct path that can be cut: a node sends to <see cref="EndPoint"/>, the gate forwards to <see cref="Target"/>
/// from its outside socket and forwards answers back, but only while <see cref="Open"/> (like a firewall rule).
/// </summary>
internal sealed class UdpGate : IDisposable
{
    private readonly Socket _inside = NewSocket();
    private readonly Socket _outside = NewSocket();
    private readonly Thread[] _threads;
    private volatile bool _stop;
    private volatile bool _open;
    private IPEndPoint? _client;
    private long _forwarded;

    public UdpGate(IPEndPoint target)
    {
        Target = target;
        _threads = [new Thread(InsideLoop) { IsBackground = true }, new Thread(OutsideLoop) { IsBackground = true }];
        foreach (Thread t in _threads)
        {
            t.Start();
        }
    }

    public IPEndPoint Target { get; }

    public IPEndPoint EndPoint => (IPEndPoint)_inside.LocalEndPoint!;

    public bool Open
    {
        get => _open;
        set => _open = value;
    }

    public long Forwarded => Interlocked.Read(ref _forwarded);

    public void Dispose()
    {
        _stop = true;
        foreach (Thread t in _threads)
        {
            t.Join(TimeSpan.FromSeconds(2));
        }

        _inside.Dispose();
        _outside.Dispose();
    }

    private static Socket NewSocket()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 100 };
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return s;
    }

    private void InsideLoop()
    {
        byte[] buffer = new byte[65535];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop)
        {
            int n;
            try
            {
                n = _inside.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException)
            {
                continue;
            }

            if (_open)
            {
                Volatile.Write(ref _client, (IPEndPoint)from);
                _outside.SendTo(buffer.AsSpan(0, n), SocketFlags.None, Target);
                Interlocked.Increment(ref _forwarded);
            }
        }
    }

    private void OutsideLoop()
    {
        byte[] buffer = new byte[65535];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop)
        {
            int n;
            try
            {
                n = _outside.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException)
            {
                continue;
            }

            IPEndPoint? client = Volatile.Read(ref _client);
            if (_open && client is not null)
            {
                _inside.SendTo(buffer.AsSpan(0, n), SocketFlags.None, client);
                Interlocked.Increment(ref _forwarded);
            }
        }
    }
}
