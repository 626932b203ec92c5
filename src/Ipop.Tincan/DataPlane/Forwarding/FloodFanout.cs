namespace Ipop.Tincan.DataPlane;

/// <summary>
/// One thread's scratch for a bounded flood (<see cref="BoundedFlood"/>): the connected links that have ring positions,
/// their positions, the positions of links not up, and the split. Grows with the link count, so a flood allocates nothing in steady state.
/// </summary>
internal sealed class FloodFanout
{
    public TincanLink[] Links { get; private set; } = new TincanLink[16];

    public ulong[] Positions { get; private set; } = new ulong[16];

    public int[] Targets { get; private set; } = new int[16];

    public ulong[] Bounds { get; private set; } = new ulong[16];

    /// <summary>The ring positions of links that are not up (a flood repairs around them).</summary>
    public ulong[] Blocked { get; private set; } = new ulong[16];

    /// <summary>Makes room for <paramref name="links"/> candidates (rare: the first flood after the link count grew).</summary>
    public void EnsureCapacity(int links)
    {
        if (links <= Links.Length)
        {
            return;
        }

        int size = Math.Max(links, Links.Length * 2);
        Links = new TincanLink[size];
        Positions = new ulong[size];
        Targets = new int[size];
        Bounds = new ulong[size];
        Blocked = new ulong[size];
    }
}
