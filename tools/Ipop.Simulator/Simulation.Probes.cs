using Ipop.Controllers.GroupVpn.Topology;

namespace Ipop.Simulator;

/// <summary>Probes: packets routed hop by hop over links that are up, with the real greedy router at every hop.</summary>
internal sealed partial class Simulation
{
    private readonly List<Probe> _probes = [];

    private sealed class Probe
    {
        public int Source;
        public int Destination;
        public int Hops;
        public double Latency;
        public int Phase;
    }

    /// <summary>Where a packet for <paramref name="destination"/> goes from <paramref name="at"/>, or -1.</summary>
    private int NextHop(int at, ulong destination)
    {
        List<int> up = _nodes[at].Up;
        Span<ulong> positions = up.Count <= 512 ? stackalloc ulong[up.Count] : new ulong[up.Count];
        for (int i = 0; i < up.Count; i++)
        {
            positions[i] = _nodes[up[i]].Position;
        }

        int hop = GreedyRingRouter.NextHop(_nodes[at].Position, destination, positions);
        return hop < 0 ? -1 : up[hop];
    }

    /// <summary>Routes at this instant (no time passes): the hop count, or -1 when the packet would be dropped.</summary>
    internal int RouteNow(int source, int destination)
    {
        ulong target = _nodes[destination].Position;
        int at = source;
        int hops = 0;
        while (at != destination)
        {
            int next = NextHop(at, target);
            if (next < 0 || ++hops > GreedyRingRouter.MaxHops || !_nodes[next].Alive)
            {
                return -1;
            }

            at = next;
        }

        return hops;
    }

    /// <summary>Sends a probe after <paramref name="delay"/>; a source of -1 picks a settled pair at send time.</summary>
    private void SendProbe(int source, int destination, double delay)
    {
        var probe = new Probe { Source = source, Destination = destination, Phase = _phase };
        _probes.Add(probe);
        _queue.After(delay, new SimEvent(EventKind.Probe, _probes.Count - 1, -1));
    }

    private void ProbeHop(in SimEvent e)
    {
        Probe probe = _probes[e.A];
        PhaseStats stats = probe.Phase == 1 ? _result.Steady : _result.Churned;
        int at = e.B;
        if (at < 0)
        {
            if (probe.Source < 0 && !PickSettledPair(probe))
            {
                return;
            }

            stats.Sent++;
            at = probe.Source;
        }

        if (!_nodes[at].Alive)
        {
            stats.DroppedDeadLink++; // forwarded to a member that has gone, before its link was found dead
            return;
        }

        if (at == probe.Destination)
        {
            stats.Delivered++;
            stats.Hops += probe.Hops;
            stats.Stretch += probe.Latency / DirectLatency(probe.Source, probe.Destination);
            stats.MaxHops = Math.Max(stats.MaxHops, probe.Hops);
            return;
        }

        int next = NextHop(at, _nodes[probe.Destination].Position);
        if (next < 0)
        {
            stats.DroppedNoRoute++;
            return;
        }

        if (++probe.Hops > GreedyRingRouter.MaxHops)
        {
            stats.DroppedHopLimit++;
            return;
        }

        double latency = LinkLatency(at, next);
        probe.Latency += latency;
        _queue.After(latency, new SimEvent(EventKind.Probe, e.A, next));
    }

    private bool PickSettledPair(Probe probe)
    {
        double settled = _queue.Seconds - _settings.SettleSeconds;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int s = _alive[_random.Next(_alive.Count)];
            int d = _alive[_random.Next(_alive.Count)];
            if (s != d && _nodes[s].JoinedAt <= settled && _nodes[d].JoinedAt <= settled)
            {
                probe.Source = s;
                probe.Destination = d;
                return true;
            }
        }

        return false;
    }
}
