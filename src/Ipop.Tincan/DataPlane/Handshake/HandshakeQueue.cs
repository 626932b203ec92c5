using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// Takes handshake messages off the receive thread: the receive thread copies an accepted message into one of a
/// fixed number of preallocated slots (no allocation), and a drain (on the node's <see cref="HandshakeWorker"/>
/// thread; the thread pool by default) hands them one by one to the handler, which does the Diffie-Hellman work. A full queue refuses the message (the caller counts the drop), so a
/// flood costs a bounded amount of memory and never holds up transport packets behind curve operations.
/// </summary>
/// <remarks>
/// At most one drain runs at a time (the handshake work of a node is serialized, like wireguard-go's handshake
/// routine). The producer schedules a drain when none is running; the drain stops when it finds the queue empty
/// under the lock, so a message enqueued after that schedules the next one. Tests pass their own
/// <c>schedule</c> and call <see cref="Drain"/> themselves.
/// </remarks>
internal sealed class HandshakeQueue : IThreadPoolWorkItem
{
    /// <summary>Largest handshake message (an initiation).</summary>
    public const int MaxMessage = HandshakeInitiationMessage.Length;

    private readonly Slot[] _ring;
    private readonly Lock _lock = new();
    private readonly Action<Slot> _handler;
    private readonly Action<HandshakeQueue> _schedule;
    private Slot _spare = new();
    private int _head;
    private int _count;
    private int _draining;

    /// <param name="capacity">Messages that may wait at once.</param>
    /// <param name="handler">Does the work of one message (a drain thread; the slot is reused after it returns).</param>
    /// <param name="schedule">Runs <see cref="Drain"/> later (default: on the thread pool).</param>
    public HandshakeQueue(int capacity, Action<Slot> handler, Action<HandshakeQueue>? schedule = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _ring = new Slot[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _ring[i] = new Slot();
        }

        _handler = handler;
        _schedule = schedule ?? (q => ThreadPool.UnsafeQueueUserWorkItem(q, preferLocal: false));
    }

    public int Capacity => _ring.Length;

    /// <summary>Messages waiting now (not counting the one being handled).</summary>
    public int Waiting => Volatile.Read(ref _count);

    /// <summary>Copies a message and schedules its handling; false when the queue is full.</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> message, SocketAddress from, RelayedPath? relay)
    {
        if (message.Length > MaxMessage || from.Size > Slot.AddressCapacity)
        {
            return false;
        }

        lock (_lock)
        {
            if (_count == _ring.Length)
            {
                return false;
            }

            _ring[(_head + _count) % _ring.Length].Fill(message, from, relay);
            _count++;
        }

        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            _schedule(this);
        }

        return true;
    }

    /// <summary>Handles messages until the queue is empty.</summary>
    public void Drain()
    {
        while (true)
        {
            Slot slot;
            lock (_lock)
            {
                if (_count == 0)
                {
                    Volatile.Write(ref _draining, 0);
                    return;
                }

                // Swaps the filled slot for the spare one, so the producer can refill the ring while this one is handled.
                slot = _ring[_head];
                _ring[_head] = _spare;
                _head = (_head + 1) % _ring.Length;
                _count--;
            }

            try
            {
                _handler(slot);
            }
            finally
            {
                slot.Relay = null;
                _spare = slot;
            }
        }
    }

    void IThreadPoolWorkItem.Execute() => Drain();

    /// <summary>One waiting message with where it came from.</summary>
    internal sealed class Slot
    {
        public const int AddressCapacity = 28;
        private readonly byte[] _message = new byte[MaxMessage];
        private int _length;

        public Slot() => Address = new SocketAddress(AddressFamily.InterNetworkV6, AddressCapacity);

        public ReadOnlySpan<byte> Message => _message.AsSpan(0, _length);

        /// <summary>The sender (reused: copy it before keeping it).</summary>
        public SocketAddress Address { get; }

        public RelayedPath? Relay { get; set; }

        public void Fill(ReadOnlySpan<byte> message, SocketAddress from, RelayedPath? relay)
        {
            message.CopyTo(_message);
            _length = message.Length;
            Address.Size = AddressCapacity;
            from.Buffer.Span[..from.Size].CopyTo(Address.Buffer.Span);
            Address.Size = from.Size;
            Relay = relay;
        }
    }
}
