using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>
/// The one thing STUN/TURN needs from the node's shared UDP socket: send a datagram. Implementations
/// must not throw for transient socket errors; they return false and the protocol's retransmission
/// or refresh logic copes.
/// </summary>
internal interface IDatagramSender
{
    bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to);
}
