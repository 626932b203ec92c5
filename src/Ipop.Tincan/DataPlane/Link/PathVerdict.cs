namespace Ipop.Tincan.DataPlane.Link;

/// <summary>What the link does with its path after an authenticated datagram (<see cref="PathSelector.Observe"/>).</summary>
internal enum PathVerdict
{
    /// <summary>Stay on the path in use.</summary>
    Keep,

    /// <summary>Stay on the direct path in use and follow the peer to the datagram's source (NAT rebinding, roaming).</summary>
    Follow,

    /// <summary>Switch to the way the datagram came.</summary>
    Adopt,
}
