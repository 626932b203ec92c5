namespace Ipop;

/// <summary>A message from a trusted peer node arrived over signaling.</summary>
public sealed class OverlayMessageEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public OverlayMessageEventArgs(PeerId from, OverlayMessage message)
    {
        From = from;
        Message = message;
    }

    /// <summary>The sending node.</summary>
    public PeerId From { get; }

    /// <summary>The message.</summary>
    public OverlayMessage Message { get; }
}
