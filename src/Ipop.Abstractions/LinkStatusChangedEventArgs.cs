namespace Ipop;

/// <summary>A link changed state or path.</summary>
public sealed class LinkStatusChangedEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public LinkStatusChangedEventArgs(ITincanLink link, LinkStatus previous, LinkStatus current)
    {
        Link = link;
        Previous = previous;
        Current = current;
    }

    /// <summary>The link.</summary>
    public ITincanLink Link { get; }

    /// <summary>The status before the change.</summary>
    public LinkStatus Previous { get; }

    /// <summary>The status now.</summary>
    public LinkStatus Current { get; }
}
