namespace Ipop.Simulator;

/// <summary>One event: its kind, up to three integers and an optional set of members (a planner view).</summary>
internal readonly record struct SimEvent(EventKind Kind, int A, int B = 0, int C = 0, int[]? Set = null, int[]? Removed = null);
