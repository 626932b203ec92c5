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

    /// <summary>
    /// Sends the payload at <c>bufferWithHeadroom[4..]</c> through the relay. The first
    /// <see cref="ChannelData.HeaderLength"/> bytes are headroom: the ChannelData header is written there in place,
    /// and the datagram goes to the allocation's <see cref="TurnAllocation.ServerSocketAddress"/>, so nothing is
    /// copied, looked up or allocated. Returns false if the allocation is not active or the socket refused the datagram.
    /// </summary>
    public bool Send(Span<byte> bufferWithHeadroom) => TryWriteHeader(bufferWithHeadroom) && _allocation.SendRaw(bufferWithHeadroom);

    /// <summary>
    /// Writes the ChannelData header into the headroom of <paramref name="bufferWithHeadroom"/> (laid out as for
    /// <see cref="Send"/>), for a caller that sends the datagram to <see cref="TurnAllocation.ServerSocketAddress"/>
    /// itself, e.g. in a batch. Returns false if the allocation is not active (nothing may be sent).
    /// </summary>
    public bool TryWriteHeader(Span<byte> bufferWithHeadroom)
    {
        int payloadLength = bufferWithHeadroom.Length - ChannelData.HeaderLength;
        if ((uint)payloadLength > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(bufferWithHeadroom), "The buffer must hold 4 bytes of headroom plus at most 65535 bytes of payload.");
        }

        if (_allocation.State != TurnAllocationState.Active)
        {
            return false;
        }

        ChannelData.WriteHeader(bufferWithHeadroom, Number, payloadLength);
        return true;
    }

    public override string ToString() => $"channel 0x{Number:x4} -> {Peer}";
}
