using System.Diagnostics.CodeAnalysis;
using System.Net;
using Ipop.Tincan.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Turn;

/// <summary>What the allocation's server sends us: ChannelData and Data indications (RFC 8656 sections 11.6, 12.4); the rest is counted garbage.</summary>
internal sealed partial class TurnAllocation
{
    /// <summary>
    /// Handles a datagram if it came from this allocation's server: ChannelData and Data indications are
    /// delivered to <see cref="DataReceived"/>; anything else is dropped and counted. Never throws.
    /// </summary>
    /// <remarks>
    /// The endpoint-based path, for a socket that reports sources as <see cref="IPEndPoint"/>. The node's socket
    /// unwraps ChannelData with <see cref="TurnDemultiplexer.TryUnwrapChannelData"/> instead and hands the payload
    /// straight to the data plane; Data indications (rare: before a channel is bound) still come here.
    /// </remarks>
    public bool TryHandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (!EndPointComparison.Same(from, ServerAddress))
        {
            return false;
        }

        switch (DatagramClassifier.Classify(datagram))
        {
            case DatagramKind.ChannelData:
                if (TryUnwrapChannelData(datagram, out TurnChannel? channel, out int length))
                {
                    DataReceived?.Invoke(this, channel.Peer, datagram.Slice(ChannelData.HeaderLength, length));
                }

                break;
            case DatagramKind.Stun:
                HandleStun(datagram);
                break;
            default:
                Drop(datagram, "not STUN or ChannelData");
                break;
        }

        return true;
    }

    /// <summary>
    /// ChannelData that came from this allocation's server: the channel it arrived on and the payload's length (the
    /// payload is <c>datagram[4..(4 + payloadLength)]</c>). Malformed ChannelData and unknown channel numbers are
    /// dropped and counted. No allocation, no lock: the channel table is an array read.
    /// </summary>
    internal bool TryUnwrapChannelData(ReadOnlySpan<byte> datagram, [NotNullWhen(true)] out TurnChannel? channel, out int payloadLength)
    {
        if (ChannelData.TryParse(datagram, out ushort number, out ReadOnlySpan<byte> payload)
            && Volatile.Read(ref _channelsByNumber[number - ChannelData.MinChannel]) is { } bound)
        {
            Interlocked.Increment(ref _channelDataReceived);
            channel = bound;
            payloadLength = payload.Length;
            return true;
        }

        Drop(datagram, "malformed ChannelData or unbound channel");
        channel = null;
        payloadLength = 0;
        return false;
    }

    private void HandleStun(ReadOnlySpan<byte> datagram)
    {
        if (StunMessage.TryParse(datagram, out StunMessage message) != StunParseError.None)
        {
            Drop(datagram, "malformed STUN");
            return;
        }

        // RFC 8656 section 11.6: a Data indication carries XOR-PEER-ADDRESS and DATA.
        if (message.Class == StunMessageClass.Indication && message.Method == StunMethod.Data
            && message.TryGetXorAddress(StunAttributeType.XorPeerAddress, out IPEndPoint? peer)
            && message.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> data))
        {
            Interlocked.Increment(ref _indicationsReceived);
            DataReceived?.Invoke(this, peer!, data);
            return;
        }

        Drop(datagram, $"unexpected STUN {message.Method} {message.Class}");
    }

    private void Drop(ReadOnlySpan<byte> datagram, string reason)
    {
        Interlocked.Increment(ref _dropped);
        if (_dropLog.ShouldLog())
        {
            LogDropped(_logger, Server, datagram.Length, reason, DroppedDatagrams);
        }
    }

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "TURN server {Server}: dropped a {Length}-byte datagram ({Reason}); {Total} dropped so far")]
    private static partial void LogDropped(ILogger logger, TurnServerEndpoint server, int length, string reason, long total);
}
