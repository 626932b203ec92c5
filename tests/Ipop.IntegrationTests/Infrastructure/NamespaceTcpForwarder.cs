using System.Net;
using System.Net.Sockets;
using Ipop.Tap.Interop;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// Lets a client inside the test process reach a server that lives on a lab address: it listens on a loopback port
/// of the test process and, for each connection, opens the outbound socket on a thread that has joined the lab
/// namespace (setns), where the socket stays. Used for a foreign XMPP account that speaks raw XML to our nodes.
/// </summary>
internal sealed class NamespaceTcpForwarder : IAsyncDisposable
{
    // A test opens a handful of connections; more than this means something loops.
    private const int MaxConnections = 64;
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;

    public NamespaceTcpForwarder(string @namespace, IPEndPoint target)
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(8);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accepting = AcceptAsync(@namespace, target);
    }

    /// <summary>The loopback port to connect to.</summary>
    public int Port { get; }

    private async Task AcceptAsync(string @namespace, IPEndPoint target)
    {
        try
        {
            for (int i = 0; i < MaxConnections; i++)
            {
                Socket inbound = await _listener.AcceptAsync(_stop.Token);
                Socket outbound = NetworkNamespaceScope.Run(@namespace, () =>
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    s.Connect(target);
                    return s;
                }, TimeSpan.FromSeconds(10));
                _pumps.Add(PumpAsync(inbound, outbound));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task PumpAsync(Socket a, Socket b)
    {
        using (a)
        using (b)
        {
            await using var sa = new NetworkStream(a, ownsSocket: false);
            await using var sb = new NetworkStream(b, ownsSocket: false);
            Task ab = Copy(sa, b);
            Task ba = Copy(sb, a);
            await Task.WhenAny(ab, ba);
            a.Close();
            b.Close();
            await Task.WhenAll(ab, ba);
        }

        async Task Copy(NetworkStream from, Socket to)
        {
            try
            {
                await from.CopyToAsync(new NetworkStream(to, ownsSocket: false), _stop.Token);
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        await Task.WhenAll(_pumps);
        _stop.Dispose();
    }
}
