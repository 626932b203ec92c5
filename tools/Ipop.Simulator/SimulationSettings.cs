namespace Ipop.Simulator;

/// <summary>Which links the simulated members want.</summary>
internal enum TopologyKind
{
    /// <summary>Every member links to every other (GroupVPN today).</summary>
    Mesh,

    /// <summary>Ring neighbours, Symphony long links and greedy forwarding (the planner of Ipop.Controllers).</summary>
    Structured,
}

/// <summary>One simulation run: the group, the underlay and the measurement.</summary>
internal sealed record SimulationSettings
{
    /// <summary>Members online at the start (and kept at that size under churn: every leave is followed by a join).</summary>
    public int Nodes { get; init; } = 1000;

    /// <summary>The topology every member runs.</summary>
    public TopologyKind Topology { get; init; } = TopologyKind.Structured;

    /// <summary>Members that leave (and as many that join) per simulated minute, in percent of <see cref="Nodes"/>.</summary>
    public double ChurnPercentPerMinute { get; init; } = 10;

    /// <summary>Simulated seconds of the churn phase.</summary>
    public double DurationSeconds { get; init; } = 60;

    /// <summary>Seeds every random choice: the same settings give the same run.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>k: ring successors and predecessors.</summary>
    public int RingNeighbours { get; init; } = 2;

    /// <summary>Sampled (source, destination) pairs for the convergence check and the probes of each phase.</summary>
    public int Probes { get; init; } = 2000;

    /// <summary>Loss of every underlay datagram of a handshake (signaling runs over TCP and loses nothing).</summary>
    public double Loss { get; init; } = 0.01;

    /// <summary>Fraction of members behind a symmetric NAT; a pair of them needs a TURN relay.</summary>
    public double SymmetricFraction { get; init; } = 0.2;

    /// <summary>The first members come online spread over this many seconds.</summary>
    public double JoinSpreadSeconds { get; init; } = 10;

    /// <summary>Fraction of leaves that are crashes (links found dead after <see cref="DeadAfterSeconds"/>) instead of a clean stop.</summary>
    public double CrashFraction { get; init; }

    /// <summary>
    /// How long a crashed member's links and presence linger: Tincan's dead-peer detection (LinkTimings.DeadPeer, three
    /// keepalive intervals plus a handshake timeout, 33 s by default); the server's session timeout is taken as equal.
    /// </summary>
    public double DeadAfterSeconds { get; init; } = 33;

    /// <summary>Probes under churn go between members online at least this long (a member that joined a moment ago
    /// is not yet reachable in any VPN).</summary>
    public double SettleSeconds { get; init; } = 5;

    /// <summary>
    /// Structured: members with an active flow to one random other member (percent of N), at
    /// <see cref="FlowPacketsPerSecond"/>; both ends count the flow's packets in their real <c>OnDemandLinks</c>.
    /// </summary>
    public double ActivePercent { get; init; }

    /// <summary>Packets per second of each active flow.</summary>
    public int FlowPacketsPerSecond { get; init; } = 50;

    /// <summary>On-demand threshold: packets per second towards a member that make a direct link worth it.</summary>
    public int OnDemandPacketsPerSecond { get; init; } = 20;

    /// <summary>On-demand links are reaped after this many idle seconds.</summary>
    public double OnDemandIdleSeconds { get; init; } = 60;

    /// <summary>On-demand cap per member.</summary>
    public int OnDemandMaxLinks { get; init; } = 4;

    /// <summary>Give up waiting for convergence after this many simulated seconds.</summary>
    public double ConvergeLimitSeconds { get; init; } = 300;
}
