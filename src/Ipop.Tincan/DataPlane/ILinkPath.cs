namespace Ipop.Tincan.DataPlane;

/// <summary>
/// How a link's datagrams reach its peer: directly over the shared UDP socket (<see cref="DirectUdpPath"/>), or
/// through our TURN allocation (<see cref="RelayedPath"/>: a channel, RFC 8656 section 12.4, or a Send indication
/// until the channel is bound). Every datagram handed to <see cref="Send"/> starts with <see cref="Headroom"/> spare
/// bytes so a relayed path writes its 4-byte ChannelData header in place (the layout: <see cref="DatagramLayout"/>).
/// </summary>
internal interface ILinkPath
{
    /// <summary>Spare bytes at the start of every buffer passed to <see cref="Send"/>; equals <see cref="DatagramLayout.Headroom"/>.</summary>
    const int Headroom = DatagramLayout.Headroom;

    /// <summary>What kind of path this is (reported in the link status).</summary>
    LinkPath Kind { get; }

    /// <summary>
    /// Sends one Ipop datagram. <paramref name="bufferWithHeadroom"/> holds <see cref="Headroom"/> spare bytes, then
    /// the datagram. Never blocks for long, never throws.
    /// </summary>
    /// <returns><c>false</c> if the datagram was not sent (counted by the caller).</returns>
    bool Send(Span<byte> bufferWithHeadroom);

    /// <summary>
    /// Queues one Ipop datagram on <paramref name="batch"/> (the NIC thread's batched send), laid out as for
    /// <see cref="Send"/>. A path that cannot batch right now (a relay before its channel is bound) sends at once.
    /// </summary>
    /// <returns><c>false</c> if the datagram was neither queued nor sent.</returns>
    bool Queue(Memory<byte> bufferWithHeadroom, Udp.DatagramBatch batch);

    /// <summary>
    /// Called for every authenticated datagram that arrived over this path from <paramref name="from"/>:
    /// a direct path follows the peer to its new address (NAT rebinding, roaming), like WireGuard.
    /// </summary>
    void OnAuthenticatedFrom(System.Net.SocketAddress from);

    /// <summary>The peer's address as text, for logs and stats.</summary>
    System.Net.IPEndPoint? RemoteEndPoint { get; }
}
