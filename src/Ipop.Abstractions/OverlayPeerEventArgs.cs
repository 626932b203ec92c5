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
}
