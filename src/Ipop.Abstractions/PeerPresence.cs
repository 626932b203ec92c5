namespace Ipop;

/// <summary>Whether a peer node is online on the overlay.</summary>
public enum PeerPresence
{
    /// <summary>Not reachable over signaling.</summary>
    Offline,

    /// <summary>Online and running Ipop.</summary>
    Online,
}
