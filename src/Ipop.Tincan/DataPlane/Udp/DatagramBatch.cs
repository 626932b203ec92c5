using System.Net;

namespace Ipop.Tincan.DataPlane.Udp;

// TEMPORARY stub of the udpbatch helper's contract (replaced at merge).
internal sealed class DatagramBatch
{
    private readonly Memory<byte>[] _datagrams;
    private readonly SocketAddress[] _addresses;

    public DatagramBatch(int capacity)
    {
        _datagrams = new Memory<byte>[capacity];
        _addresses = new SocketAddress[capacity];
    }

    public int Capacity => _datagrams.Length;

    public int Count { get; private set; }

    public bool IsFull => Count == _datagrams.Length;

    public Memory<byte> this[int index] => _datagrams[index];

    public SocketAddress AddressOf(int index) => _addresses[index];

    public void Add(Memory<byte> datagram, SocketAddress to)
    {
        _datagrams[Count] = datagram;
        _addresses[Count] = to;
        Count++;
    }

    public void Clear()
    {
        Array.Clear(_datagrams, 0, Count);
        Array.Clear(_addresses, 0, Count);
        Count = 0;
    }
}
