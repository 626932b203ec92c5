namespace Ipop;

/// <summary>What kind of network path a connected link uses.</summary>
public enum LinkPath
{
    /// <summary>No path yet.</summary>
    None,

    /// <summary>Directly between host addresses (same LAN or public addresses).</summary>
    DirectHost,

    /// <summary>Directly through NAT mappings learned from STUN (a punched hole).</summary>
    DirectServerReflexive,

    /// <summary>Directly through a NAT mapping learned from the peer's checks.</summary>
    DirectPeerReflexive,

    /// <summary>Through a TURN relay.</summary>
    Relayed,
}
