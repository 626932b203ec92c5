namespace Ipop;

/// <summary>What happens to one packet that arrived on a link: delivered here, forwarded to another link, or dropped.</summary>
public readonly struct InboundDecision : IEquatable<InboundDecision>
{
    private InboundDecision(InboundAction action, ITincanLink? link, InboundDropReason reason)
    {
        Action = action;
        Link = link;
        Reason = reason;
    }

    /// <summary>Write the packet to the virtual interface.</summary>
    public static InboundDecision Deliver => new(InboundAction.Deliver, null, default);

    /// <summary>What to do.</summary>
    public InboundAction Action { get; }

    /// <summary>The next hop for <see cref="InboundAction.Forward"/>.</summary>
    public ITincanLink? Link { get; }

    /// <summary>Why, for <see cref="InboundAction.Drop"/>.</summary>
    public InboundDropReason Reason { get; }

    /// <summary>Send the packet on over <paramref name="nextHop"/>.</summary>
    public static InboundDecision Forward(ITincanLink nextHop)
    {
        ArgumentNullException.ThrowIfNull(nextHop);
        return new InboundDecision(InboundAction.Forward, nextHop, default);
    }

    /// <summary>Drop the packet for <paramref name="reason"/> (counted; <see cref="InboundDropReason.Unreachable"/> is also answered).</summary>
    public static InboundDecision Drop(InboundDropReason reason) => new(InboundAction.Drop, null, reason);

    /// <inheritdoc />
    public bool Equals(InboundDecision other) => Action == other.Action && ReferenceEquals(Link, other.Link) && (Action != InboundAction.Drop || Reason == other.Reason);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is InboundDecision other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Action, Link, Action == InboundAction.Drop ? Reason : default);

    /// <inheritdoc />
    public override string ToString() => Action switch
    {
        InboundAction.Forward => $"Forward({Link?.Peer})",
        InboundAction.Drop => $"Drop({Reason})",
        _ => Action.ToString(),
    };

    /// <summary>Equality.</summary>
    public static bool operator ==(InboundDecision left, InboundDecision right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(InboundDecision left, InboundDecision right) => !left.Equals(right);
}
