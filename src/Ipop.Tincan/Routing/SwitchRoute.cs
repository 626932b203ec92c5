namespace Ipop.Tincan;

/// <summary>Where <see cref="LearningSwitch"/> sends a frame from the interface in a structured overlay.</summary>
internal enum SwitchRoute
{
    /// <summary>Nowhere: too short, or for a station on this node's side.</summary>
    Drop,

    /// <summary>To a station learned directly behind the link (plain <c>Packet</c> frames), as a plain frame.</summary>
    Direct,

    /// <summary>To a station learned through a hop: to the link it was heard from, as a forwarded frame.</summary>
    ThroughHop,

    /// <summary>Broadcast, multicast or unknown unicast: a bounded flood (a plain flood when no ring position is set).</summary>
    Flood,

    /// <summary>An ARP request for a member's address, rewritten in place into the reply: back to the interface.</summary>
    AnswerLocally,
}
