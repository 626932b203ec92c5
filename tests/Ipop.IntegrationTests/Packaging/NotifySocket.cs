using System.Net.Sockets;
using System.Text;

namespace Ipop.IntegrationTests.Packaging;

/// <summary>
/// The service manager's end of sd_notify(3), as systemd opens it: an AF_UNIX datagram socket, bound to a path or to
/// an abstract name (<c>@name</c> in <c>NOTIFY_SOCKET</c>), that receives one state message per datagram.
/// </summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string? _path;

    private NotifySocket(string address, string? path)
    {
        Address = address;
        _path = path;
    }

    /// <summary>The value for <c>NOTIFY_SOCKET</c>.</summary>
    public string Address { get; }

    /// <summary>A socket in the abstract namespace of the caller's network namespace (never on disk).</summary>
    public static NotifySocket Abstract(string name)
    {
        var s = new NotifySocket("@" + name, null);
        s._socket.Bind(new UnixDomainSocketEndPoint("\0" + name));
        return s;
    }

    /// <summary>A socket at a path (reachable from any network namespace).</summary>
    public static NotifySocket AtPath(string path)
    {
        var s = new NotifySocket(path, path);
        s._socket.Bind(new UnixDomainSocketEndPoint(path));
        return s;
    }

    /// <summary>The next message, or <c>null</c> when none arrives within <paramref name="timeout"/>.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan timeout)
    {
        byte[] buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until a message contains the line <paramref name="state"/>; returns all messages seen.</summary>
    public async Task<(bool Seen, List<string> Messages)> WaitForAsync(string state, TimeSpan timeout, List<string>? seen = null)
    {
        seen ??= [];
        DateTime end = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < end)
        {
            string? message = await ReceiveAsync(end - DateTime.UtcNow);
            if (message is null)
            {
                break;
            }

            seen.Add(message);
            string[] lines = message.Split('\n');
            if (lines.Contains(state))
            {
                return (true, seen);
            }

            if (lines.Contains("STOPPING=1"))
            {
                // The host gave up (a failed start says STOPPING=1 and never READY=1): no point waiting on.
                break;
            }
        }

        return (false, seen);
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }
}
