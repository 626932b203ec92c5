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
/// <remarks>
/// Relayed data, the one hot kind, has its own entry: <see cref="TryUnwrapChannelData"/> works on the socket's
/// <see cref="SocketAddress"/> and the writable receive buffer, so the data plane gets the payload in one hop.
/// </remarks>
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

    /// <summary>
    /// ChannelData (first byte 64-79) straight off the socket. True if <paramref name="from"/> is one of our TURN
    /// servers: then <paramref name="channel"/> is the channel it came on and <paramref name="payload"/> the relayed
    /// datagram (a slice of <paramref name="datagram"/>, still writable), or <paramref name="channel"/> is null and the
    /// allocation counted the datagram as garbage. False: not from a TURN server of ours (a stranger's bytes).
    /// </summary>
    public bool TryUnwrapChannelData(Span<byte> datagram, SocketAddress from, out TurnChannel? channel, out Span<byte> payload)
    {
        foreach (TurnAllocation allocation in _allocations)
        {
            if (allocation.ServerSocketAddress.Equals(from))
            {
                payload = allocation.TryUnwrapChannelData(datagram, out channel, out int length)
                    ? datagram.Slice(ChannelData.HeaderLength, length)
                    : default;
                return true;
            }
        }

        channel = null;
        payload = default;
        return false;
    }

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
