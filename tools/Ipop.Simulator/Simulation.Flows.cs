using Ipop.Controllers.GroupVpn.Topology;

namespace Ipop.Simulator;

/// <summary>
/// Traffic for on-demand links: a few members each send a steady flow to one other member. Both ends feed the real
/// <see cref="OnDemandLinks"/> once a second (the receiver counts what it gets, so both ends want the link and the one
/// whose key sorts lower, the negotiator's offerer, starts it); a reaped member's link closes unless the plan wants it.
/// </summary>
internal sealed partial class Simulation
{
    private readonly List<(int Source, int Destination)> _flows = [];
    private readonly ulong[] _reaped = new ulong[64];

    private void StartFlows()
    {
        int count = (int)(_settings.ActivePercent / 100 * _settings.Nodes);
        while (_flows.Count < count)
        {
            AddFlow();
        }
    }

    private void AddFlow()
    {
        int s = _alive[_random.Next(_alive.Count)];
        int d = _alive[_random.Next(_alive.Count)];
        if (s != d)
        {
            _flows.Add((s, d));
        }
    }

    /// <summary>One second of traffic: count it at both ends, start links that became wanted, reap idle ones.</summary>
    private void FlowTick()
    {
        if (_settings.Topology != TopologyKind.Structured || _flows.Count == 0)
        {
            return;
        }

        TimeSpan now = TimeSpan.FromTicks(_queue.Now * 10);
        for (int i = 0; i < _flows.Count; i++)
        {
            (int s, int d) = _flows[i];
            if (!_nodes[s].Alive || !_nodes[d].Alive)
            {
                _flows.RemoveAt(i--); // an end left: the member that replaces it brings a new flow
                AddFlow();
                continue;
            }

            Count(s, d, now);
            Count(d, s, now);
        }

        foreach (int id in _alive)
        {
            OnDemandLinks? set = _nodes[id].OnDemand;
            int reaped = set?.Reap(now, _reaped) ?? 0;
            for (int r = 0; r < reaped; r++)
            {
                if (_byPosition.TryGetValue(_reaped[r], out int peer) && !Wants(id, peer) && _pairs.ContainsKey(Key(id, peer)))
                {
                    Close(id, peer, retry: false);
                }
            }
        }
    }

    private void Count(int node, int peer, TimeSpan now)
    {
        SimNode n = _nodes[node];
        n.OnDemand ??= new OnDemandLinks(_settings.OnDemandPacketsPerSecond, TimeSpan.FromSeconds(_settings.OnDemandIdleSeconds), _settings.OnDemandMaxLinks);
        if (n.OnDemand.Record(_nodes[peer].Position, _settings.FlowPacketsPerSecond, now) && Offerer(node, peer) == node)
        {
            Start(node, peer);
        }
    }

    /// <summary>At the end of a phase: how many flows have a direct link, and how many members hit the cap.</summary>
    private void SampleFlows(PhaseStats stats)
    {
        stats.Flows = _flows.Count;
        stats.FlowsDirect = _flows.Count(f => _pairs.TryGetValue(Key(f.Source, f.Destination), out Pair? p) && p.Up);
        stats.RefusedAtCap = _nodes.Sum(n => n.OnDemand?.RefusedAtCap ?? 0);
    }
}
