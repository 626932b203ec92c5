using System.Net;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Receives datagrams whose first byte falls in a range registered with <see cref="UdpMux.RegisterHandler"/>
/// (STUN 0-3 and TURN ChannelData 64-79 per RFC 7983; Ipop's own 4-7 are the link manager's).
/// </summary>
/// <remarks>
/// Called on the receive thread: return quickly, never block, never throw. <c>data</c> and
/// <c>from</c> belong to the receive loop; <c>data</c> stays valid until <see cref="OnBatchEnd"/> returns,
/// <c>from</c> only during the call. The handler may modify <c>data</c> in place.
/// </remarks>
internal interface IDatagramHandler
{
    void OnDatagram(Memory<byte> data, SocketAddress from);

    /// <summary>After the datagrams of one receive batch, before their memory is reused.</summary>
    void OnBatchEnd()
    {
    }
}
