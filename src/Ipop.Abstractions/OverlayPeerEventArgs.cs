namespace Ipop;

/// <summary>A peer node changed (presence, relationship or groups).</summary>
public sealed class OverlayPeerEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public OverlayPeerEventArgs(OverlayPeer? previous, OverlayPeer current)
    {
        Previous = previous;
        Current = current;
    }

    /// <summary>How the peer was before; <c>null</c> if it is new.</summary>
    public OverlayPeer? Previous { get; }

    /// <summary>How the peer is now.</summary>
    public OverlayPeer Current { get; }

    /// <summary>
    /// The peer went offline only because its signaling session ended (it logged out, or its connection was reset, as
    /// a moving network does), with its membership or friendship unchanged: it may be back in moments. <c>false</c>
    /// for a removal (kicked, banned, membership revoked, unfriended) and whenever signaling cannot tell, so a link
    /// kept across a short absence is never kept across a removal.
    /// </summary>
    public bool SessionEnded { get; init; }
}
