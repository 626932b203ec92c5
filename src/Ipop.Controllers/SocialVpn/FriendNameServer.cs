using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// A tiny authoritative DNS responder (RFC 1035) on the node's own VPN address, port 53, for the names
/// of friends in this node's view: <c>bob.ipop</c> answers Bob's address here. Chosen over rewriting
/// /etc/hosts because it needs no write access to system files, is per-node (per network namespace),
/// and is always current. Point a resolver at it, or query it directly (<c>dig @198.19.100.1 bob.ipop</c>).
/// Names outside the suffix are refused, so it can never be abused as a resolver.
/// </summary>
internal sealed partial class FriendNameServer : IAsyncDisposable
{
    private const ushort TypeA = 1;
    private const ushort ClassIn = 1;
    private readonly Socket _socket;
    private readonly string _suffix;
    private readonly Func<string, IPAddress?> _resolve;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private FriendNameServer(Socket socket, string suffix, Func<string, IPAddress?> resolve, ILogger logger)
    {
        _socket = socket;
        _suffix = suffix.TrimEnd('.');
        _resolve = resolve;
        _logger = logger;
        _loop = Task.Run(ServeAsync);
    }

    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public static FriendNameServer? Start(IPAddress address, string suffix, Func<string, IPAddress?> resolve, ILogger logger, int port = 53)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            LogCannotBind(logger, address.ToString(), port, e.Message);
            return null;
        }

        LogServing(logger, suffix, address.ToString(), port);
        return new FriendNameServer(socket, suffix, resolve, logger);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>Builds the answer to one query; 0 when the datagram is not a query we answer at all.</summary>
    internal static int Answer(ReadOnlySpan<byte> query, Span<byte> response, string suffix, Func<string, IPAddress?> resolve)
    {
        if (query.Length < 12 || response.Length < 512 || (query[2] & 0x80) != 0 || BinaryPrimitives.ReadUInt16BigEndian(query[4..]) != 1)
        {
            return 0; // not a single-question query
        }

        var name = new StringBuilder();
        int i = 12;
        while (true)
        {
            if (i >= query.Length)
            {
                return 0;
            }

            int len = query[i++];
            if (len == 0)
            {
                break;
            }

            if (len > 63 || i + len > query.Length || name.Length + len > 253)
            {
                return 0; // compression pointers or oversized labels have no place in a question
            }

            if (name.Length > 0)
            {
                name.Append('.');
            }

            name.Append(Encoding.ASCII.GetString(query.Slice(i, len)));
            i += len;
        }

        if (i + 4 > query.Length)
        {
            return 0;
        }

        ushort qtype = BinaryPrimitives.ReadUInt16BigEndian(query[i..]);
        ushort qclass = BinaryPrimitives.ReadUInt16BigEndian(query[(i + 2)..]);
        int questionEnd = i + 4;
        query[..questionEnd].CopyTo(response);
        BinaryPrimitives.WriteUInt16BigEndian(response[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(response[8..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(response[10..], 0);
        string qname = name.ToString();
        bool inZone = qname.Equals(suffix, StringComparison.OrdinalIgnoreCase) || qname.EndsWith("." + suffix, StringComparison.OrdinalIgnoreCase);
        IPAddress? address = inZone ? resolve(qname) : null;
        int rcode = !inZone ? 5 : address is null ? 3 : 0; // REFUSED outside our zone, NXDOMAIN for unknown names
        response[2] = (byte)(0x84 | (query[2] & 0x01)); // QR, AA, and RD echoed
        response[3] = (byte)rcode;
        int n = questionEnd;
        if (address is not null && qclass == ClassIn && qtype == TypeA)
        {
            BinaryPrimitives.WriteUInt16BigEndian(response[6..], 1);
            BinaryPrimitives.WriteUInt16BigEndian(response[n..], 0xC00C); // pointer to the question's name
            BinaryPrimitives.WriteUInt16BigEndian(response[(n + 2)..], TypeA);
            BinaryPrimitives.WriteUInt16BigEndian(response[(n + 4)..], ClassIn);
            BinaryPrimitives.WriteUInt32BigEndian(response[(n + 6)..], 30); // short TTL: addresses follow friendships
            BinaryPrimitives.WriteUInt16BigEndian(response[(n + 10)..], 4);
            address.TryWriteBytes(response[(n + 12)..], out _);
            n += 16;
        }

        // AAAA and other types for a known name: NOERROR with no answer (NODATA).
        return n;
    }

    private async Task ServeAsync()
    {
        byte[] query = new byte[512];
        byte[] response = new byte[512];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r = await _socket.ReceiveFromAsync(query, SocketFlags.None, any, _stop.Token);
            int n = Answer(query.AsSpan(0, r.ReceivedBytes), response, _suffix, _resolve);
            if (n > 0)
            {
                await _socket.SendToAsync(response.AsMemory(0, n), SocketFlags.None, r.RemoteEndPoint, _stop.Token);
            }
        }
    }

    [LoggerMessage(20, LogLevel.Information, "answering names *.{Suffix} on {Address}:{Port}")]
    private static partial void LogServing(ILogger logger, string suffix, string address, int port);

    [LoggerMessage(21, LogLevel.Warning, "cannot serve friend names on {Address}:{Port}: {Reason}")]
    private static partial void LogCannotBind(ILogger logger, string address, int port, string reason);
}
