using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>
/// The one thing STUN/TURN needs from the node's shared UDP socket: send a datagram. Implementations
/// must not throw for transient socket errors; they return false and the protocol's retransmission
/// or refresh logic copes.
/// </summary>
/// <remarks>
/// Requests (STUN, TURN control) go to an <see cref="IPEndPoint"/>. Relayed data goes to the TURN server
/// over and over, so a <see cref="Turn.TurnAllocation"/> converts the server's address once with
/// <see cref="ToSocketAddress"/> and sends every datagram with <see cref="Send(ReadOnlySpan{byte}, SocketAddress)"/>:
/// no lookup and no allocation per datagram.
/// </remarks>
internal interface IDatagramSender
{
    /// <summary>Sends to an endpoint; may convert (and allocate or look up) per call, so not for the data path.</summary>
    bool Send(ReadOnlySpan<byte> datagram, IPEndPoint to);

    /// <summary>Sends to an address made by <see cref="ToSocketAddress"/>; the data path's send.</summary>
    bool Send(ReadOnlySpan<byte> datagram, SocketAddress to);

    /// <summary>
    /// The socket's own form of <paramref name="to"/> (an IPv4 address mapped to IPv6 on a dual-stack socket), or
    /// <c>null</c> if the socket cannot reach it. Called once per destination that gets many datagrams.
    /// </summary>
    SocketAddress? ToSocketAddress(IPEndPoint to);
}
