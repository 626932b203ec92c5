namespace Ipop.Tincan.DataPlane.Link;

/// <summary>
/// What the packet threads need to send on a link, published by the control loop (Volatile.Write) whenever the
/// current session or the path changes: read once per packet, never under a lock, never torn.
/// </summary>
internal sealed class LinkSnapshot
{
    public LinkSnapshot(Session current, ILinkPath path)
    {
        Current = current;
        Path = path;
    }

    /// <summary>The session packets are sealed with (its send key and counter).</summary>
    public Session Current { get; }

    /// <summary>The path packets go out on.</summary>
    public ILinkPath Path { get; }
}
