using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ipop.Lab.Namespaces;
using Ipop.Tap.Interop;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// ICMP echo between many (source, destination) pairs of lab hosts at once, what <c>ping</c> sends, from one raw
/// socket per source namespace (made there with setns, where it stays). A forked <c>ping</c> costs about 12 ms of CPU
/// on the loaded 2-core machine, so a round over the 992 pairs of 32 members would take 12 s of CPU from the members
/// under test; this takes a few milliseconds, and it times each answer to the millisecond.
/// </summary>
internal sealed class PingMatrix : IDisposable
{
    private const int EchoReply = 0;
    private const int EchoRequest = 8;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    private readonly IReadOnlyList<IPAddress> _addresses;
    private readonly Socket[] _sockets;
    private readonly ushort _id = (ushort)Environment.ProcessId;
    private int _sequence;

    /// <param name="hosts">The sources, by index.</param>
    /// <param name="addresses">The destination address of each index (the member's overlay address).</param>
    public PingMatrix(IReadOnlyList<LabNamespace> hosts, IReadOnlyList<IPAddress> addresses)
    {
        _addresses = addresses;
        _sockets = [.. hosts.Select(h => NetworkNamespaceScope.Run(h.Name, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
            s.Bind(new IPEndPoint(IPAddress.Any, 0)); // receiving may start before the first send
            return s;
        }, TimeSpan.FromSeconds(10)))];
    }

    /// <summary>Every ordered pair of distinct indexes.</summary>
    public IReadOnlyList<(int From, int To)> AllPairs() =>
        [.. from f in Enumerable.Range(0, _sockets.Length) from t in Enumerable.Range(0, _sockets.Length) where f != t select (f, t)];

    /// <summary>
    /// Sends an echo request for every pair that has not answered yet, every 500 ms, until each pair has answered or
    /// <paramref name="within"/> has passed. Returns when (on <paramref name="clock"/>) each pair first answered; pairs
    /// missing from the result never did.
    /// </summary>
    public async Task<Dictionary<(int From, int To), TimeSpan>> UntilAnsweredAsync(IEnumerable<(int From, int To)> pairs, TimeSpan within, Stopwatch clock, CancellationToken cancellationToken)
    {
        TimeSpan end = clock.Elapsed + within;
        var first = new Dictionary<(int From, int To), TimeSpan>();
        await Task.WhenAll(pairs.GroupBy(p => p.From).Select(async batch =>
        {
            Dictionary<(int From, int To), TimeSpan> answered = await FromOneAsync(batch.Key, [.. batch.Select(p => p.To)], end, clock, cancellationToken);
            lock (first)
            {
                foreach (KeyValuePair<(int From, int To), TimeSpan> kv in answered)
                {
                    first[kv.Key] = kv.Value;
                }
            }
        }));
        return first;
    }

    private async Task<Dictionary<(int From, int To), TimeSpan>> FromOneAsync(int from, HashSet<int> outstanding, TimeSpan end, Stopwatch clock, CancellationToken cancellationToken)
    {
        Socket socket = _sockets[from];
        var answered = new Dictionary<(int From, int To), TimeSpan>();
        byte[] request = new byte[24];
        byte[] buffer = new byte[1500];
        while (outstanding.Count > 0 && clock.Elapsed < end)
        {
            Echo(request, _id, (ushort)Interlocked.Increment(ref _sequence));
            foreach (int to in outstanding)
            {
                try
                {
                    await socket.SendToAsync(request, SocketFlags.None, new IPEndPoint(_addresses[to], 0), cancellationToken);
                }
                catch (SocketException)
                {
                    // No route while the source's interface is down (a member that is restarting): no answer this time.
                }
            }

            TimeSpan next = clock.Elapsed + Interval;
            while (outstanding.Count > 0 && clock.Elapsed < next)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(next - clock.Elapsed);
                int received;
                try
                {
                    received = await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                // An IPv4 packet: the header (IHL words), then ICMP type, code, checksum, identifier, sequence.
                int header = (buffer[0] & 0x0f) * 4;
                if (received < header + 8 || buffer[header] != EchoReply || BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(header + 4)) != _id)
                {
                    continue;
                }

                var source = new IPAddress(buffer.AsSpan(12, 4));
                int to = IndexOf(source);
                if (to >= 0 && outstanding.Remove(to))
                {
                    answered[(from, to)] = clock.Elapsed;
                }
            }
        }

        return answered;
    }

    private int IndexOf(IPAddress address)
    {
        for (int i = 0; i < _addresses.Count; i++)
        {
            if (_addresses[i].Equals(address))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>An ICMP echo request (RFC 792) with a 16-byte payload and its checksum (RFC 1071).</summary>
    private static void Echo(byte[] packet, ushort id, ushort sequence)
    {
        Array.Clear(packet);
        packet[0] = EchoRequest;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), sequence);
        "ipop-scale-probe"u8.CopyTo(packet.AsSpan(8));
        uint sum = 0;
        for (int i = 0; i < packet.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(i));
        }

        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)~sum);
    }

    public void Dispose()
    {
        foreach (Socket s in _sockets)
        {
            s.Dispose();
        }
    }
}
