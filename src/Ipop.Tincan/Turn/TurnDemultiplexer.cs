using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Turn;

/// <summary>
/// The STUN/TURN half of the shared socket's receive path (RFC 7983 first-byte demux): STUN responses go
/// to the transaction table, datagrams from a TURN server (ChannelData, Data indications) go to its
/// allocation, everything else (peer traffic, connectivity checks) to <see cref="Next"/>. Allocation
/// lookups read an immutable snapshot: no lock on the receive path.
/// </summary>
internal sealed class TurnDemultiplexer(StunTransactionTable transactions) : IDatagramReceiver
{
    private ImmutableArray<TurnAllocation> _allocations = [];

    /// <summary>Receives everything that is not ours (set once, before the socket starts).</summary>
    public IDatagramReceiver? Next { get; set; }

    public void Register(TurnAllocation allocation)
    {
        ImmutableInterlocked.Update(ref _allocations, static (list, a) => list.Add(a), allocation);
        allocation.Demultiplexer = this;
    }

    public void Unregister(TurnAllocation allocation) =>
        ImmutableInterlocked.Update(ref _allocations, static (list, a) => list.Remove(a), allocation);

    public void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        DatagramKind kind = DatagramClassifier.Classify(datagram);
        if (kind == DatagramKind.Stun && transactions.TryHandleResponse(datagram, from))
        {
            return;
        }

        // Every kind: a TURN server sending us something that is neither ChannelData nor a Data
        // indication is garbage, and the allocation counts and logs it.
        foreach (TurnAllocation allocation in _allocations)
        {
            if (allocation.TryHandleDatagram(datagram, from))
            {
                return;
            }
        }

        // Only STUN-range bytes can be a garbled answer worth blaming on a server; the Ipop data path
        // (first byte outside 0-3 and 64-79) must not pay for the table's lock.
        if (kind != DatagramKind.Other && transactions.TryHandleUnexpected(datagram, from))
        {
            return;
        }

        Next?.OnDatagram(datagram, from);
    }
}
