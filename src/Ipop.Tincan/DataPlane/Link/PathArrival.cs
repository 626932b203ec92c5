namespace Ipop.Tincan.DataPlane.Link;

/// <summary>How an authenticated datagram reached us.</summary>
internal enum PathArrival
{
    /// <summary>On our socket from one of the peer's own addresses.</summary>
    Direct,

    /// <summary>On our socket from the peer's TURN relay (its relayed candidate).</summary>
    PeerRelay,

    /// <summary>Through our own TURN allocation.</summary>
    OurRelay,
}
