using System.Diagnostics;
using Ipop.Controllers.GroupVpn.Topology;

namespace Ipop.Simulator;

/// <summary>
/// A GroupVPN of thousands of members on a virtual clock. Each member runs the real <see cref="StructuredPlan"/> and
/// <see cref="GreedyRingRouter"/>; the room's presence, the offer/answer exchange and the Tincan handshake are modelled
/// with their latencies, timeouts and losses (docs/scale.md). Phases: the members come online and the overlay
/// converges; probes between sampled pairs; then churn with probes throughout.
/// </summary>
internal sealed partial class Simulation
{
    private const int FullRoster = 1;
    private readonly SimulationSettings _settings;
    private readonly Random _random;
    private readonly EventQueue _queue = new();
    private readonly List<SimNode> _nodes = [];
    private readonly List<int> _alive = [];
    private readonly Dictionary<long, Pair> _pairs = [];
    private readonly Dictionary<ulong, int> _byPosition = [];
    private readonly List<int> _joinedSinceTick = [];
    private readonly List<int> _leftSinceTick = [];
    private readonly List<(int Source, int Destination)> _sample = [];
    private readonly TextWriter? _progress;
    private readonly SimulationResult _result = new();
    private int _members;
    private long _generation;
    private long _presenceMessages;
    private long _negotiationMessages;
    private long _linksMade;
    private bool _membershipChanged;
    private int _phase; // 0 converging, 1 probes after convergence, 2 churn, 3 done
    private double _churnEnd;
    private long _messagesAtPhaseStart;
    private long _presenceAtPhaseStart;
    private double _phaseStart;
    private long _linkSamples;
    private double _linkSum;

    /// <summary>A simulation of <paramref name="settings"/>; <paramref name="progress"/> gets a line per phase.</summary>
    public Simulation(SimulationSettings settings, TextWriter? progress = null)
    {
        _settings = settings;
        _random = new Random(settings.Seed);
        _progress = progress;
    }

    private long Messages => _presenceMessages + _negotiationMessages;

    /// <summary>Runs to the end and returns what was measured.</summary>
    public SimulationResult Run()
    {
        var wall = Stopwatch.StartNew();
        for (int i = 0; i < _settings.Nodes; i++)
        {
            int id = NewNode();
            _queue.After(_random.NextDouble() * _settings.JoinSpreadSeconds, new SimEvent(EventKind.Join, id));
        }

        PickSample();
        _queue.After(1, new SimEvent(EventKind.PlanTick, 0));
        _queue.After(1, new SimEvent(EventKind.Check, 0));
        while (_phase < 3 && _queue.TryNext(out SimEvent e))
        {
            Dispatch(e);
        }

        _result.Settings = _settings;
        _result.Events = _queue.Processed;
        _result.LinksMade = _linksMade;
        _result.WallSeconds = wall.Elapsed.TotalSeconds;
        _result.LinkBound = StructuredPlan.MaxLinks(_settings.Nodes, _settings.RingNeighbours) + (_settings.ActivePercent > 0 ? _settings.OnDemandMaxLinks : 0);
        return _result;
    }

    private int NewNode()
    {
        int id = _nodes.Count;
        ulong position = RingPosition.Of($"member-{_settings.Seed}-{id}@groups.example");
        double access = 0.005 + (_random.NextDouble() * 0.055); // 5..60 ms one way to the core
        var node = new SimNode(id, position, access, _random.NextDouble() < _settings.SymmetricFraction);
        _nodes.Add(node);
        _byPosition[position] = id;
        return id;
    }

    private void PickSample()
    {
        int n = _settings.Nodes;
        if ((long)n * (n - 1) <= _settings.Probes)
        {
            for (int s = 0; s < n; s++)
            {
                for (int d = 0; d < n; d++)
                {
                    if (s != d)
                    {
                        _sample.Add((s, d));
                    }
                }
            }

            return;
        }

        while (_sample.Count < _settings.Probes)
        {
            int s = _random.Next(n);
            int d = _random.Next(n);
            if (s != d)
            {
                _sample.Add((s, d));
            }
        }
    }

    private void Dispatch(in SimEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.Join: Join(e.A); break;
            case EventKind.PlanTick: PlanTick(); break;
            case EventKind.View: ApplyView(e); break;
            case EventKind.Offer: Offer(e); break;
            case EventKind.Answer: Answer(e); break;
            case EventKind.LinkUp: LinkUp(e); break;
            case EventKind.Retry: Retry(e); break;
            case EventKind.DeadDetected: Depart(e.A); break;
            case EventKind.Probe: ProbeHop(e); break;
            case EventKind.Check: Check(); break;
            case EventKind.Churn: Churn(); break;
            case EventKind.PhaseEnd: EndPhase(); break;
            default: throw new UnreachableException(e.Kind.ToString());
        }
    }

    /// <summary>
    /// Once a second every member re-plans if the room changed (a controller debounces presence the same way), and
    /// the result reaches each member after its signaling latency: its view lags the room by that much.
    /// </summary>
    private void PlanTick()
    {
        if (_phase is 1 or 2)
        {
            FlowTick();
            SampleLinks();
        }

        if (_membershipChanged)
        {
            _membershipChanged = false;
            if (_settings.Topology == TopologyKind.Structured)
            {
                PlanStructured();
            }
            else
            {
                PlanMesh();
            }

            _joinedSinceTick.Clear();
            _leftSinceTick.Clear();
        }

        _queue.After(1, new SimEvent(EventKind.PlanTick, 0));
    }

    private void PlanStructured()
    {
        var positions = new List<ulong>(_members);
        foreach (SimNode node in _nodes)
        {
            if (node.Member)
            {
                positions.Add(node.Position);
            }
        }

        // Every member computes this same plan from the same room (it is deterministic); computing it once here
        // instead of once per member changes nothing but the simulator's running time.
        long started = Stopwatch.GetTimestamp();
        StructuredPlan plan = StructuredPlan.Build(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(positions), _settings.RingNeighbours);
        _result.PlanSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        _result.Plans++;
        for (int i = 0; i < plan.Count; i++)
        {
            int id = _byPosition[plan.PositionAt(i)];
            SimNode node = _nodes[id];
            if (!node.Alive)
            {
                continue;
            }

            ReadOnlySpan<int> neighbours = plan.NeighboursOf(i);
            int[] wanted = new int[neighbours.Length];
            for (int j = 0; j < wanted.Length; j++)
            {
                wanted[j] = _byPosition[plan.PositionAt(neighbours[j])];
            }

            Array.Sort(wanted);
            if (!wanted.AsSpan().SequenceEqual(node.PlannedSent))
            {
                node.PlannedSent = wanted;
                _queue.After(node.AccessSeconds + ServerSeconds, new SimEvent(EventKind.View, id, 0, 0, wanted));
            }
        }
    }

    private void PlanMesh()
    {
        int[] added = [.. _joinedSinceTick];
        int[] removed = [.. _leftSinceTick];
        int[]? roster = null;
        var joined = new HashSet<int>(added);
        foreach (int id in _alive)
        {
            SimNode node = _nodes[id];
            double delay = node.AccessSeconds + ServerSeconds;
            if (joined.Contains(id))
            {
                roster ??= [.. _nodes.Where(n => n.Member).Select(n => n.Id)];
                _queue.After(delay, new SimEvent(EventKind.View, id, FullRoster, 0, roster));
            }
            else
            {
                _queue.After(delay, new SimEvent(EventKind.View, id, 0, 0, added, removed));
            }
        }
    }

    private void SampleLinks()
    {
        int max = 0;
        long sum = 0;
        foreach (int id in _alive)
        {
            int links = _nodes[id].Up.Count;
            max = Math.Max(max, links);
            sum += links;
        }

        PhaseStats stats = _phase == 1 ? _result.Steady : _result.Churned;
        stats.MaxLinks = Math.Max(stats.MaxLinks, max);
        _linkSum += sum / (double)Math.Max(1, _alive.Count);
        _linkSamples++;
        stats.MeanLinks = _linkSum / _linkSamples;
    }

    private void Check()
    {
        if (_phase != 0)
        {
            return;
        }

        bool converged = _alive.Count == _settings.Nodes;
        foreach ((int s, int d) in _sample)
        {
            if (!converged)
            {
                break;
            }

            converged = RouteNow(s, d) >= 0;
        }

        if (converged || _queue.Seconds >= _settings.ConvergeLimitSeconds)
        {
            _result.ConvergedSeconds = converged ? _queue.Seconds : double.NaN;
            _result.JoinMessagesPerNode = Messages / (double)_settings.Nodes;
            _result.JoinPresencePerNode = _presenceMessages / (double)_settings.Nodes;
            _progress?.WriteLine(converged
                ? $"converged after {_queue.Seconds:F1} s simulated: all {_sample.Count} sampled pairs route over links that are up"
                : $"NOT converged after {_queue.Seconds:F1} s simulated");
            StartPhase(1);
            StartFlows();
            for (int i = 0; i < _sample.Count; i++)
            {
                SendProbe(_sample[i].Source, _sample[i].Destination, 2.0 * i / _sample.Count);
            }

            _queue.After(12, new SimEvent(EventKind.PhaseEnd, 0));
            return;
        }

        _queue.After(1, new SimEvent(EventKind.Check, 0));
    }

    private void StartPhase(int phase)
    {
        _phase = phase;
        _messagesAtPhaseStart = Messages;
        _presenceAtPhaseStart = _presenceMessages;
        _phaseStart = _queue.Seconds;
        _linkSamples = 0;
        _linkSum = 0;
    }

    private void EndPhase()
    {
        PhaseStats stats = _phase == 1 ? _result.Steady : _result.Churned;
        double minutes = (_queue.Seconds - _phaseStart) / 60;
        stats.MessagesPerNodeMinute = (Messages - _messagesAtPhaseStart) / (double)_settings.Nodes / minutes;
        stats.PresencePerNodeMinute = (_presenceMessages - _presenceAtPhaseStart) / (double)_settings.Nodes / minutes;
        SampleFlows(stats);
        if (_phase == 2 || _settings.ChurnPercentPerMinute <= 0)
        {
            _phase = 3;
            return;
        }

        StartPhase(2);
        _churnEnd = _queue.Seconds + _settings.DurationSeconds;
        ScheduleChurn();
        int probes = 5 * _settings.Probes;
        for (int i = 0; i < probes; i++)
        {
            SendProbe(-1, -1, _settings.DurationSeconds * i / probes);
        }

        _queue.After(_settings.DurationSeconds + 12, new SimEvent(EventKind.PhaseEnd, 0));
    }

    private void ScheduleChurn()
    {
        double perSecond = _settings.ChurnPercentPerMinute / 100 * _settings.Nodes / 60;
        double gap = -Math.Log(1 - _random.NextDouble()) / perSecond;
        if (_queue.Seconds + gap < _churnEnd)
        {
            _queue.After(gap, new SimEvent(EventKind.Churn, 0));
        }
    }

    private void Churn()
    {
        int leaving = _alive[_random.Next(_alive.Count)];
        bool crash = _random.NextDouble() < _settings.CrashFraction;
        Leave(leaving, crash);
        _result.Churned.Leaves++;
        Join(NewNode());
        ScheduleChurn();
    }
}
