using System.Net;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Receives datagrams whose first byte falls in a range registered with <see cref="UdpMux.RegisterHandler"/>
/// (STUN 0-3 and TURN ChannelData 64-79 per RFC 7983; Ipop's own 4-7 are the link manager's).
/// </summary>
/// <remarks>
/// Called on the receive thread: return quickly, never block, never throw. The receive loop takes datagrams in
/// batches (recvmmsg); a UDP_GRO super-datagram is split into its segments first, and each segment is dispatched on
/// its own first byte. <c>datagram</c> is pinned memory of the receive loop, valid (and not reused) until
/// <see cref="OnBatchEnd"/> returns, so a handler may keep it that long, e.g. to write a batch to the TUN device
/// at the end; it may modify it in place (e.g. strip a ChannelData header) and must copy what it keeps longer.
/// <c>from</c> is reused after the call returns.
/// </remarks>
internal interface IDatagramHandler
{
    void OnDatagram(Memory<byte> datagram, SocketAddress from);

    /// <summary>
    /// Called once per receive batch, after its last datagram, on every handler that got at least one datagram in
    /// it: the place to flush work batched across <see cref="OnDatagram"/> calls.
    /// </summary>
    void OnBatchEnd()
    {
    }
}
