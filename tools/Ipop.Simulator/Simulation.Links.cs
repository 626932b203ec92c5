namespace Ipop.Simulator;

/// <summary>Membership and link setup, modelled as the room and <c>LinkNegotiator</c> do it.</summary>
internal sealed partial class Simulation
{
    private const double ServerSeconds = 0.015;   // member access network -> XMPP server, beyond the access latency
    private const double TurnSeconds = 0.020;     // extra one-way latency through a TURN relay, per leg
    private const double AnswerTimeout = 10;      // NegotiationSettings.AnswerTimeout
    private const double RetryMin = 1;            // NegotiationSettings.RetryMin
    private const double HandshakeTimeout = 3;    // TincanOptions.HandshakeTimeout (doubles, capped at 8x)
    private const int HandshakeAttempts = 6;      // TincanOptions.HandshakeAttempts
    private const double CheckRetransmit = 0.5;   // an ICE check lost is sent again this much later

    private sealed class Pair
    {
        public long Generation;
        public bool Up;
    }

    private double Signaling(int a, int b) => _nodes[a].AccessSeconds + _nodes[b].AccessSeconds + (2 * ServerSeconds);

    private bool Relayed(int a, int b) => _nodes[a].Symmetric && _nodes[b].Symmetric;

    /// <summary>One-way latency of the link between two nodes (through the relay when both are behind symmetric NATs).</summary>
    internal double LinkLatency(int a, int b) => _nodes[a].AccessSeconds + _nodes[b].AccessSeconds + (Relayed(a, b) ? 2 * TurnSeconds : 0);

    /// <summary>One-way latency of the direct underlay path, the yardstick of path stretch.</summary>
    internal double DirectLatency(int a, int b) => _nodes[a].AccessSeconds + _nodes[b].AccessSeconds;

    private static long Key(int a, int b) => a < b ? ((long)a << 32) | (uint)b : ((long)b << 32) | (uint)a;

    private int Offerer(int a, int b) => _nodes[a].Position < _nodes[b].Position ? a : b;

    private bool Wants(int node, int peer) =>
        _settings.Topology == TopologyKind.Mesh
            ? _nodes[node].Known?.Contains(peer) == true
            : Array.BinarySearch(_nodes[node].Planned, peer) >= 0 || _nodes[node].OnDemand?.Contains(_nodes[peer].Position) == true;

    private void Join(int id)
    {
        SimNode node = _nodes[id];
        node.Alive = true;
        node.Member = true;
        node.JoinedAt = _queue.Seconds;
        node.AliveIndex = _alive.Count;
        _alive.Add(id);
        _members++;
        _joinedSinceTick.Add(id);
        _membershipChanged = true;
        _presenceMessages += _members - 1; // the room broadcasts the new occupant's presence
    }

    private void Leave(int id, bool crash)
    {
        SimNode node = _nodes[id];
        node.Alive = false;
        int last = _alive[^1];
        _alive[node.AliveIndex] = last;
        _nodes[last].AliveIndex = node.AliveIndex;
        _alive.RemoveAt(_alive.Count - 1);
        node.AliveIndex = -1;
        if (crash)
        {
            // Nobody hears of it until keepalives go unanswered and the server drops the session.
            _queue.After(_settings.DeadAfterSeconds, new SimEvent(EventKind.DeadDetected, id));
        }
        else
        {
            Depart(id);
        }
    }

    private void Depart(int id)
    {
        SimNode node = _nodes[id];
        node.Member = false;
        _members--;
        _leftSinceTick.Add(id);
        _membershipChanged = true;
        _presenceMessages += _members; // unavailable presence to every remaining occupant
        foreach (int peer in node.Up.ToArray())
        {
            Close(id, peer, retry: false);
        }
    }

    private void ApplyView(in SimEvent e)
    {
        SimNode node = _nodes[e.A];
        if (!node.Alive)
        {
            return;
        }

        if (_settings.Topology == TopologyKind.Structured)
        {
            int[] old = node.Planned;
            node.Planned = e.Set!;
            foreach (int peer in old)
            {
                if (!Wants(e.A, peer) && _pairs.ContainsKey(Key(e.A, peer)))
                {
                    Close(e.A, peer, retry: true);
                }
            }

            foreach (int peer in node.Planned)
            {
                if (Array.BinarySearch(old, peer) < 0 && Offerer(e.A, peer) == e.A)
                {
                    Start(e.A, peer);
                }
            }

            return;
        }

        if (e.B == FullRoster)
        {
            node.Known = [.. e.Set!];
            node.Known.Remove(e.A);
            foreach (int peer in node.Known)
            {
                if (Offerer(e.A, peer) == e.A)
                {
                    Start(e.A, peer);
                }
            }

            return;
        }

        MeshAdded(e.A, e.Set ?? []);
        foreach (int peer in e.Removed ?? [])
        {
            if (node.Known!.Remove(peer) && _pairs.ContainsKey(Key(e.A, peer)))
            {
                Close(e.A, peer, retry: false);
            }
        }
    }

    private void MeshAdded(int id, int[] added)
    {
        SimNode node = _nodes[id];
        if (!node.Alive || node.Known is null)
        {
            return;
        }

        foreach (int peer in added)
        {
            if (peer != id && node.Known.Add(peer) && Offerer(id, peer) == id)
            {
                Start(id, peer);
            }
        }
    }

    private void Start(int a, int b)
    {
        long key = Key(a, b);
        if (_pairs.ContainsKey(key) || !_nodes[a].Alive)
        {
            return;
        }

        var pair = new Pair { Generation = ++_generation };
        _pairs[key] = pair;
        _negotiationMessages++;
        _queue.After(Signaling(a, b), new SimEvent(EventKind.Offer, a, b, (int)pair.Generation));
    }

    private Pair? Current(int a, int b, int generation) =>
        _pairs.TryGetValue(Key(a, b), out Pair? p) && (int)p.Generation == generation ? p : null;

    private void Offer(in SimEvent e)
    {
        if (Current(e.A, e.B, e.C) is null)
        {
            return;
        }

        if (!_nodes[e.B].Alive)
        {
            // Nobody answers: after the answer timeout the offerer tries again if it still wants the peer.
            _pairs.Remove(Key(e.A, e.B));
            _queue.After(AnswerTimeout, new SimEvent(EventKind.Retry, e.A, e.B));
            return;
        }

        _negotiationMessages++;
        _queue.After(Signaling(e.A, e.B), new SimEvent(EventKind.Answer, e.A, e.B, e.C));
    }

    private void Answer(in SimEvent e)
    {
        if (Current(e.A, e.B, e.C) is null)
        {
            return;
        }

        if (!_nodes[e.A].Alive)
        {
            _pairs.Remove(Key(e.A, e.B));
            return;
        }

        double rtt = 2 * LinkLatency(e.A, e.B);
        double setup = Relayed(e.A, e.B) ? 2 * (_nodes[e.A].AccessSeconds + TurnSeconds) : 0; // TURN allocation
        double success = (1 - _settings.Loss) * (1 - _settings.Loss);
        while (_random.NextDouble() >= success)
        {
            setup += CheckRetransmit; // a connectivity check or its response was lost
        }

        setup += rtt;
        double timeout = HandshakeTimeout;
        for (int attempt = 0; attempt < HandshakeAttempts; attempt++)
        {
            if (_random.NextDouble() < success)
            {
                _queue.After(setup + rtt, new SimEvent(EventKind.LinkUp, e.A, e.B, e.C));
                return;
            }

            setup += timeout;
            timeout = Math.Min(timeout * 2, 8 * HandshakeTimeout);
        }

        _pairs.Remove(Key(e.A, e.B));
        _queue.After(setup + RetryMin, new SimEvent(EventKind.Retry, e.A, e.B));
    }

    private void LinkUp(in SimEvent e)
    {
        Pair? pair = Current(e.A, e.B, e.C);
        if (pair is null)
        {
            return;
        }

        if (!_nodes[e.A].Alive || !_nodes[e.B].Alive)
        {
            _pairs.Remove(Key(e.A, e.B));
            return;
        }

        pair.Up = true;
        _nodes[e.A].Up.Add(e.B);
        _nodes[e.B].Up.Add(e.A);
        _linksMade++;
    }

    private void Close(int a, int b, bool retry)
    {
        if (!_pairs.Remove(Key(a, b), out Pair? pair))
        {
            return;
        }

        if (pair.Up)
        {
            _nodes[a].Up.Remove(b);
            _nodes[b].Up.Remove(a);
        }

        // Closed by the side whose view changed first: the offerer tries again if its own (older) view still wants it;
        // by then its view has usually caught up and the retry does nothing.
        int offerer = Offerer(a, b);
        if (retry)
        {
            _queue.After(RetryMin, new SimEvent(EventKind.Retry, offerer, offerer == a ? b : a));
        }
    }

    private void Retry(in SimEvent e)
    {
        if (_nodes[e.A].Alive && Wants(e.A, e.B))
        {
            Start(e.A, e.B);
        }
    }
}
