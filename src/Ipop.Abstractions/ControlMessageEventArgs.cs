namespace Ipop;

/// <summary>A controller-to-controller message arrived over a link.</summary>
public sealed class ControlMessageEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public ControlMessageEventArgs(ITincanLink link, ReadOnlyMemory<byte> message)
    {
        Link = link;
        Message = message;
    }

    /// <summary>The link it came over (its peer is authenticated).</summary>
    public ITincanLink Link { get; }

    /// <summary>The message bytes (a copy the handler may keep).</summary>
    public ReadOnlyMemory<byte> Message { get; }
}
