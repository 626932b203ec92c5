using System.Net;

namespace Ipop.Tincan.Turn;

/// <summary>
/// A channel binding (RFC 8656 section 12): peer transport address to a 16-bit number, so relayed data
/// costs 4 bytes of header instead of a 36+ byte Send indication.
/// </summary>
internal sealed class TurnChannel
{
    private readonly TurnAllocation _allocation;

    internal TurnChannel(TurnAllocation allocation, ushort number, IPEndPoint peer)
    {
        _allocation = allocation;
        Number = number;
        Peer = peer;
    }

    public ushort Number { get; }

    public IPEndPoint Peer { get; }

    public TurnAllocation Allocation => _allocation;

    /// <summary>When the binding (and its permission) must be refreshed next; owned by the allocation's maintenance.</summary>
    internal long RefreshDueTimestamp { get; set; }

    /// <summary>
    /// Sends the payload at <c>buffer[4..(4 + payloadLength)]</c> through the relay. The first four bytes
    /// are headroom: the ChannelData header is written there in place, so nothing is copied or allocated.
    /// Returns false if the allocation is not active or the socket refused the datagram.
    /// </summary>
    public bool Send(Span<byte> buffer, int payloadLength)
    {
        if ((uint)payloadLength > ushort.MaxValue || buffer.Length < ChannelData.HeaderLength + payloadLength)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), "The buffer must hold 4 bytes of headroom plus the payload.");
        }

        if (_allocation.State != TurnAllocationState.Active)
        {
            return false;
        }

        ChannelData.WriteHeader(buffer, Number, payloadLength);
        return _allocation.SendRaw(buffer[..(ChannelData.HeaderLength + payloadLength)]);
    }

    public override string ToString() => $"channel 0x{Number:x4} -> {Peer}";
}
