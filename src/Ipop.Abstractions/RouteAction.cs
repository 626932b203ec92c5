namespace Ipop;

/// <summary>The kind of <see cref="RouteDecision"/>.</summary>
public enum RouteAction
{
    /// <summary>Drop the packet.</summary>
    Drop,

    /// <summary>Send to one link.</summary>
    Unicast,

    /// <summary>Send to every connected link.</summary>
    Flood,
}
