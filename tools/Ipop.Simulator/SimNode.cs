namespace Ipop.Simulator;

/// <summary>One simulated member: where it sits on the ring and the underlay, what its planner wants, which links are up.</summary>
internal sealed class SimNode(int id, ulong position, double accessSeconds, bool symmetric)
{
    /// <summary>Index in the simulation's node list (a member that leaves never returns; a join is a new node).</summary>
    public int Id { get; } = id;

    /// <summary>The real <c>RingPosition</c> of the node's id.</summary>
    public ulong Position { get; } = position;

    /// <summary>One-way latency from the node to the underlay's core (its access network).</summary>
    public double AccessSeconds { get; } = accessSeconds;

    /// <summary>Behind a symmetric NAT: a link to another such node needs a TURN relay.</summary>
    public bool Symmetric { get; } = symmetric;

    /// <summary>Running (false once it left or crashed).</summary>
    public bool Alive { get; set; }

    /// <summary>In the room as the server sees it (a crashed node stays until the server notices).</summary>
    public bool Member { get; set; }

    /// <summary>When it joined, in simulated seconds.</summary>
    public double JoinedAt { get; set; }

    /// <summary>Index in the list of alive nodes (for picking one at random), or -1.</summary>
    public int AliveIndex { get; set; } = -1;

    /// <summary>Structured: the planner's neighbours as this node last applied them (node ids, ascending).</summary>
    public int[] Planned { get; set; } = [];

    /// <summary>Structured: the neighbours last sent to this node (the view it will have once the presence arrives).</summary>
    public int[] PlannedSent { get; set; } = [];

    /// <summary>Mesh: the members this node knows of.</summary>
    public HashSet<int>? Known { get; set; }

    /// <summary>Structured with traffic: the real on-demand set of this node (null until it carries a flow).</summary>
    public Ipop.Controllers.GroupVpn.Topology.OnDemandLinks? OnDemand { get; set; }

    /// <summary>Peers with a link that is up at this node.</summary>
    public List<int> Up { get; } = [];
}
