using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// A NAT-like man in the middle on 127.0.0.1: a node sends to <see cref="EndPoint"/>; the relay forwards to
/// <see cref="Target"/> from its own "outside" socket and forwards the answers back. It records what it forwarded,
/// can re-send a recorded datagram (replay), and can <see cref="Rebind"/> its outside socket (a NAT mapping change).
/// </summary>
internal sealed class UdpRelay : IDisposable
{
    private readonly Socket _inside = NewSocket();
    private readonly List<Thread> _threads = [];
    private Socket _outside = NewSocket();
    private volatile bool _stop;
    private IPEndPoint? _client;

    public UdpRelay(IPEndPoint target)
    {
        Target = target;
        Start(() => InsideLoop());
        Socket outside = _outside;
        Start(() => OutsideLoop(outside));
    }

    public IPEndPoint Target { get; }

    /// <summary>Where the inside node sends.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_inside.LocalEndPoint!;

    /// <summary>The address the target sees the inside node at.</summary>
    public IPEndPoint OutsideEndPoint => (IPEndPoint)Volatile.Read(ref _outside).LocalEndPoint!;

    /// <summary>Datagrams forwarded toward <see cref="Target"/>.</summary>
    public ConcurrentQueue<byte[]> ToTarget { get; } = new();

    public void SendToTarget(byte[] datagram) => Volatile.Read(ref _outside).SendTo(datagram, Target);

    /// <summary>How many of the next handshake initiations (either way) to lose: a lossy path.</summary>
    public int InitiationsToLose;

    /// <summary>Handshake initiations through the relay so far (either way), lost ones included.</summary>
    public int InitiationsSeen;

    /// <summary>Handshake initiations lost so far.</summary>
    public int InitiationsLost;

    /// <summary>Datagrams longer than this are lost silently, either way: a path MTU black hole.</summary>
    public int MaxDatagram = int.MaxValue;

    /// <summary>A new outside port from now on, like a NAT that lost its mapping.</summary>
    public void Rebind()
    {
        Socket fresh = NewSocket();
        Socket old = Interlocked.Exchange(ref _outside, fresh);
        Start(() => OutsideLoop(fresh));
        old.Dispose();
    }

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

    // Either way through the relay: counts a handshake initiation and says whether to lose it.
    private bool LoseInitiation(byte[] buffer, int length)
    {
        if (length == 0 || buffer[0] != 4)
        {
            return false;
        }

        Interlocked.Increment(ref InitiationsSeen);
        if (Interlocked.Decrement(ref InitiationsToLose) >= 0)
        {
            Interlocked.Increment(ref InitiationsLost);
            return true;
        }

        Interlocked.Increment(ref InitiationsToLose);
        return false;
    }

    private static Socket NewSocket()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.ReceiveTimeout = 200;
        return s;
    }

    private void Start(ThreadStart loop)
    {
        var t = new Thread(loop) { IsBackground = true };
        _threads.Add(t);
        t.Start();
    }

    private void InsideLoop()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop)
        {
            try
            {
                int n = _inside.ReceiveFrom(buffer, ref any);
                if (((IPEndPoint)any).Equals(Target))
                {
                    // The target cannot use the inside address; only the inside node can.
                    continue;
                }

                _client = (IPEndPoint)any;
                if (LoseInitiation(buffer, n) || n > MaxDatagram)
                {
                    continue;
                }

                byte[] datagram = buffer[..n];
                ToTarget.Enqueue(datagram);
                Volatile.Read(ref _outside).SendTo(datagram, Target);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void OutsideLoop(Socket outside)
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop && ReferenceEquals(outside, Volatile.Read(ref _outside)))
        {
            try
            {
                int n = outside.ReceiveFrom(buffer, ref any);
                if (_client is not null && ((IPEndPoint)any).Equals(Target) && !LoseInitiation(buffer, n) && n <= MaxDatagram)
                {
                    _inside.SendTo(buffer.AsSpan(0, n), _client);
                }
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }
}
