namespace Ipop.Tincan.Turn;

internal enum TurnAllocationState
{
    /// <summary>Allocated and being refreshed.</summary>
    Active,

    /// <summary>A refresh failed for good (expired, 437, credentials revoked): the relayed address is gone.</summary>
    Failed,

    /// <summary>Disposed by us (deallocated).</summary>
    Closed,
}
