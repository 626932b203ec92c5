namespace Ipop.Simulator;

/// <summary>What happens at one instant of simulated time.</summary>
internal enum EventKind : byte
{
    Join,
    PlanTick,
    View,
    Offer,
    Answer,
    LinkUp,
    Retry,
    DeadDetected,
    Probe,
    Check,
    Churn,
    PhaseEnd,
}
