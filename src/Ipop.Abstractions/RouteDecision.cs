namespace Ipop;

/// <summary>Where one outbound packet goes: nowhere, one link, or every connected link.</summary>
public readonly struct RouteDecision : IEquatable<RouteDecision>
{
    private RouteDecision(RouteAction action, ITincanLink? link)
    {
        Action = action;
        Link = link;
    }

    /// <summary>Drop the packet (no route).</summary>
    public static RouteDecision Drop => default;

    /// <summary>Send to every connected link (broadcast, multicast, unknown unicast in switch mode).</summary>
    public static RouteDecision Flood => new(RouteAction.Flood, null);

    /// <summary>Drop and answer the sender with ICMP destination unreachable (e.g. a group member that is offline).</summary>
    public static RouteDecision Unreachable => new(RouteAction.Unreachable, null);

    /// <summary>What to do.</summary>
    public RouteAction Action { get; }

    /// <summary>The link for <see cref="RouteAction.Unicast"/>.</summary>
    public ITincanLink? Link { get; }

    /// <summary>Send to exactly one link.</summary>
    public static RouteDecision To(ITincanLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        return new RouteDecision(RouteAction.Unicast, link);
    }

    /// <inheritdoc />
    public bool Equals(RouteDecision other) => Action == other.Action && ReferenceEquals(Link, other.Link);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RouteDecision other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Action, Link);

    /// <summary>Equality.</summary>
    public static bool operator ==(RouteDecision left, RouteDecision right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(RouteDecision left, RouteDecision right) => !left.Equals(right);
}
