using System.Net;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane.Udp;

/// <summary>
/// Records every datagram and batch end, and checks the handler contract on the way: a batch end only follows
/// datagrams, and every datagram's memory still holds its bytes when the batch ends.
/// </summary>
internal sealed class RecordingHandler : IDatagramHandler
{
    private readonly object _gate = new(); // Monitor.Wait needs a Monitor lock, not System.Threading.Lock.
    private readonly List<byte[]> _datagrams = [];
    private readonly List<IPEndPoint?> _sources = [];
    private readonly List<(Memory<byte> Memory, byte[] Copy)> _pending = [];

    public int BatchEnds { get; private set; }

    /// <summary>A contract violation seen by the handler, or <c>null</c>.</summary>
    public string? Violation { get; private set; }

    public void OnDatagram(Memory<byte> datagram, SocketAddress from)
    {
        lock (_gate)
        {
            byte[] copy = datagram.ToArray();
            _datagrams.Add(copy);
            _sources.Add(UdpMux.ToEndPoint(from));
            _pending.Add((datagram, copy));
        }
    }

    public void OnBatchEnd()
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                Violation ??= "OnBatchEnd without a datagram in the batch";
            }

            foreach ((Memory<byte> memory, byte[] copy) in _pending)
            {
                if (!memory.Span.SequenceEqual(copy))
                {
                    Violation ??= "a datagram's memory changed before its batch ended";
                }
            }

            _pending.Clear();
            BatchEnds++;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits (bounded) until <paramref name="count"/> datagrams arrived and a batch end followed the last.</summary>
    public (List<byte[]> Datagrams, List<IPEndPoint?> Sources) WaitFor(int count, int timeoutMs = 10_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        lock (_gate)
        {
            while (_datagrams.Count < count || _pending.Count > 0)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    break;
                }

                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(Math.Min(left, 200)));
            }

            return ([.. _datagrams], [.. _sources]);
        }
    }
}
