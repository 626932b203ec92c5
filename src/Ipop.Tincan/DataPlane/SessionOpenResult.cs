namespace Ipop.Tincan.DataPlane;

/// <summary>What <see cref="Session.TryOpen"/> did with a packet.</summary>
internal enum SessionOpenResult
{
    /// <summary>The packet authenticated and was decrypted.</summary>
    Opened,

    /// <summary>The packet did not authenticate (tampered, forged, or sealed with another key).</summary>
    Failed,

    /// <summary>The session was retired while the packet was on its way: its keys are gone, nothing was read.</summary>
    Retired,
}
