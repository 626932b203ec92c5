using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>What a socket's receive loop calls for every datagram. Must not throw and must not keep the span.</summary>
internal interface IDatagramReceiver
{
    void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from);
}
