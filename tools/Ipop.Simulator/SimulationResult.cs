using System.Globalization;

namespace Ipop.Simulator;

/// <summary>What one phase measured.</summary>
internal sealed class PhaseStats
{
    public long Sent { get; set; }
    public long Delivered { get; set; }
    public long DroppedNoRoute { get; set; }
    public long DroppedHopLimit { get; set; }
    public long DroppedDeadLink { get; set; }
    public long Hops { get; set; }
    public int MaxHops { get; set; }
    public double Stretch { get; set; }
    public int MaxLinks { get; set; }
    public double MeanLinks { get; set; }
    public double MessagesPerNodeMinute { get; set; }
    public double PresencePerNodeMinute { get; set; }
    public long Leaves { get; set; }
    public int Flows { get; set; }
    public int FlowsDirect { get; set; }
    public long RefusedAtCap { get; set; }

    public double DeliveryPercent => Sent == 0 ? double.NaN : 100.0 * Delivered / Sent;

    public double MeanHops => Delivered == 0 ? double.NaN : Hops / (double)Delivered;

    public double MeanStretch => Delivered == 0 ? double.NaN : Stretch / Delivered;
}

/// <summary>Everything a run measured, and its report.</summary>
internal sealed class SimulationResult
{
    public SimulationSettings Settings { get; set; } = new();
    public double ConvergedSeconds { get; set; } = double.NaN;
    public double JoinMessagesPerNode { get; set; }
    public double JoinPresencePerNode { get; set; }
    public PhaseStats Steady { get; } = new();
    public PhaseStats Churned { get; } = new();
    public int LinkBound { get; set; }
    public long LinksMade { get; set; }
    public long Events { get; set; }
    public long Plans { get; set; }
    public double PlanSeconds { get; set; }
    public double WallSeconds { get; set; }

    /// <summary>The messages per node per minute of the last line: under churn when there was churn, else steady.</summary>
    public double MessagesPerNodeMinute => Settings.ChurnPercentPerMinute > 0 ? Churned.MessagesPerNodeMinute : Steady.MessagesPerNodeMinute;

    /// <summary>The largest link count seen on any member after convergence, with or without churn.</summary>
    public int MaxLinks => Math.Max(Steady.MaxLinks, Churned.MaxLinks);

    /// <summary>The human-readable lines, then the machine-readable one.</summary>
    public IEnumerable<string> Report()
    {
        var c = CultureInfo.InvariantCulture;
        SimulationSettings s = Settings;
        yield return string.Create(c, $"settings: k={s.RingNeighbours} seed={s.Seed} loss={s.Loss * 100:F1}% symmetric_nat={s.SymmetricFraction * 100:F0}% join_spread={s.JoinSpreadSeconds}s churn={s.ChurnPercentPerMinute}%/min for {s.DurationSeconds}s crash={s.CrashFraction * 100:F0}% active={s.ActivePercent}% dead_after={s.DeadAfterSeconds}s probes={s.Probes}");
        yield return string.Create(c, $"join: converged_s={ConvergedSeconds:F1} control messages per node {JoinMessagesPerNode:F1} (presence {JoinPresencePerNode:F1}, negotiation {JoinMessagesPerNode - JoinPresencePerNode:F1}), links made {LinksMade}");
        yield return Line("steady", Steady);
        if (s.ChurnPercentPerMinute > 0)
        {
            yield return Line("churn", Churned) + string.Create(c, $" leaves={Churned.Leaves}");
        }

        if (s.ActivePercent > 0)
        {
            yield return string.Create(c, $"on-demand: flows {Steady.Flows} at {s.FlowPacketsPerSecond} pkt/s, threshold {s.OnDemandPacketsPerSecond} pkt/s, idle {s.OnDemandIdleSeconds}s, cap {s.OnDemandMaxLinks}; flows with a direct link: steady {Steady.FlowsDirect}/{Steady.Flows}, churn {Churned.FlowsDirect}/{Churned.Flows}; refused at cap {Math.Max(Steady.RefusedAtCap, Churned.RefusedAtCap)}");
        }

        string cap = s.ActivePercent > 0 ? "+cap" : "";
        yield return string.Create(c, $"links per node bound 2k+ceil(log2 N){cap} = {LinkBound}; events {Events}; plans built {Plans}, {(Plans == 0 ? 0 : PlanSeconds * 1000 / Plans):F1} ms each (wall)");
        string churn = s.ChurnPercentPerMinute > 0 ? Churned.DeliveryPercent.ToString("F2", c) : "n/a";
        yield return string.Create(c, $"nodes={s.Nodes} topology={s.Topology.ToString().ToLowerInvariant()} converged_s={ConvergedSeconds:F1} delivery={Steady.DeliveryPercent:F2}% churn_delivery={churn}% max_links={MaxLinks} mean_links={Steady.MeanLinks:F2} msgs_per_node_min={MessagesPerNodeMinute:F1} wall_s={WallSeconds:F1}");
    }

    private static string Line(string name, PhaseStats p) => string.Create(
        CultureInfo.InvariantCulture,
        $"{name}: probes {p.Sent} delivered {p.Delivered} ({p.DeliveryPercent:F2}%) dropped no_route={p.DroppedNoRoute} hop_limit={p.DroppedHopLimit} dead_link={p.DroppedDeadLink}; hops mean {p.MeanHops:F2} max {p.MaxHops}; latency stretch {p.MeanStretch:F2}; links max {p.MaxLinks} mean {p.MeanLinks:F2}; control msgs/node/min {p.MessagesPerNodeMinute:F1} (presence {p.PresencePerNodeMinute:F1}, negotiation {p.MessagesPerNodeMinute - p.PresencePerNodeMinute:F1})");
}
