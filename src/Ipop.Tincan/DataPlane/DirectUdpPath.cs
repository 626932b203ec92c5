using System.Net;

namespace Ipop.Tincan.DataPlane;

/// <summary>A path straight to the peer's UDP address over the node's shared socket.</summary>
internal sealed class DirectUdpPath : ILinkPath
{
    private readonly UdpMux _mux;
    private SocketAddress _remote;

    public DirectUdpPath(UdpMux mux, SocketAddress remote, LinkPath kind = LinkPath.DirectHost)
    {
        _mux = mux;
        _remote = remote;
        Kind = kind;
    }

    public LinkPath Kind { get; }

    /// <summary>The peer's current address (replaced, never mutated, when the peer roams).</summary>
    public SocketAddress Remote => Volatile.Read(ref _remote);

    public IPEndPoint? RemoteEndPoint => UdpMux.ToEndPoint(Remote);

    public bool Send(Span<byte> bufferWithHeadroom) => _mux.SendTo(bufferWithHeadroom[ILinkPath.Headroom..], Volatile.Read(ref _remote));

    public bool Queue(Memory<byte> bufferWithHeadroom, Udp.DatagramBatch batch)
    {
        batch.Add(bufferWithHeadroom[ILinkPath.Headroom..], Volatile.Read(ref _remote));
        return true;
    }

    public void OnAuthenticatedFrom(SocketAddress from)
    {
        // Only authenticated packets move the endpoint, so a spoofed source cannot hijack the link (WireGuard 2.1).
        if (!Volatile.Read(ref _remote).Equals(from))
        {
            var copy = new SocketAddress(from.Family, from.Size);
            from.Buffer.Span.CopyTo(copy.Buffer.Span);
            Volatile.Write(ref _remote, copy);
        }
    }

    public bool IsSameAddress(SocketAddress address) => Volatile.Read(ref _remote).Equals(address);

    public override string ToString() => $"{Kind} {RemoteEndPoint}";
}
