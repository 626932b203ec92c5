using System.Net;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Receives datagrams whose first byte falls in a range registered with <see cref="UdpMux.RegisterHandler"/>
/// (STUN 0-3 and TURN ChannelData 64-79 per RFC 7983; Ipop's own 4-7 are the link manager's).
/// </summary>
/// <remarks>
/// Called on the receive thread: return quickly, never block, never throw. <c>data</c> and
/// <c>from</c> belong to the receive loop and are reused after the call returns; the handler may
/// modify <c>data</c> in place (e.g. strip a ChannelData header) and must copy what it keeps.
/// </remarks>
internal interface IDatagramHandler
{
    void OnDatagram(Span<byte> data, SocketAddress from);
}
