namespace Ipop.Tincan.DataPlane.Mtu;

/// <summary>The DPLPMTUD states of RFC 8899 section 5.2 that a link's prober goes through.</summary>
internal enum PathMtuState
{
    /// <summary>Probing is off: the link assumes the whole tunnel MTU fits (the behaviour before issue 13).</summary>
    Disabled,

    /// <summary>Confirming the base size and, in the same round, trying the largest size at once.</summary>
    Base,

    /// <summary>Rounds of probes between the largest size confirmed and the smallest size seen lost.</summary>
    Searching,

    /// <summary>The search ended; the size is confirmed while full-size traffic flows, and raised again later.</summary>
    SearchComplete,

    /// <summary>Not even the base size got through: the link keeps the base size and tries again after the raise timer.</summary>
    Error,
}
