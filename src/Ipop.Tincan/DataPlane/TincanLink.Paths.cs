using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The peer's candidates and the path in use: starting the link on new candidates, and moving the path after
/// authenticated traffic (the decision is <see cref="PathSelector.Observe"/>'s; the paths are made here).
/// </summary>
internal sealed partial class TincanLink
{
    private ImmutableArray<Candidate> _candidates;

    // The candidates of the last StartOnLoop (control loop).
    private ImmutableArray<Candidate> _startedWith;

    // One path per candidate the socket can reach; replaced as a whole when the peer's candidates change.
    private List<DirectUdpPath> _candidatePaths = [];
    private ILinkPath? _path;

    /// <summary>The peer's candidates from its descriptor.</summary>
    internal ImmutableArray<Candidate> CandidatesFromDescriptor
    {
        get => _candidates;
        set => _candidates = value;
    }

    internal ILinkPath? Path => Volatile.Read(ref _path);

    /// <summary>
    /// Switches the link to another path (tests: a path that stands in for a TURN channel). Sessions are unaffected;
    /// the next packet goes the new way.
    /// </summary>
    internal void SetPath(ILinkPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        _manager.Control.PostAndWait(
            () =>
        {
            Volatile.Write(ref _path, path);
            Publish();
            if (_current is not null)
            {
                SetStatus(ConnectedStatuses[(int)path.Kind]);
            }
        },
            LinkManager.ControllerWait);
    }

    /// <summary>Replaces the candidates and (re)starts a handshake, on the control loop (see <see cref="ControlLoop.PostAndWait"/>).</summary>
    internal void Start(ImmutableArray<Candidate> candidates) => _manager.Control.PostAndWait(
        () =>
        {
            if (!_closed)
            {
                StartOnLoop(candidates);
            }
        },
        LinkManager.ControllerWait);

    // Control loop.
    private void StartOnLoop(ImmutableArray<Candidate> candidates)
    {
        // CreateLink sets CandidatesFromDescriptor before this runs: what the link last started with tells a change.
        bool replaced = !_startedWith.IsDefault && !_startedWith.SequenceEqual(candidates);
        _startedWith = candidates;
        _candidates = candidates;
        UdpMux? mux = _manager.Mux;
        if (mux is null)
        {
            // Not started: the first wakeup of the deadline timer, at StartAsync, begins.
            _candidatePaths = [];
            _handshake.Defer(0);
            return;
        }

        var paths = new List<DirectUdpPath>(candidates.Length);
        foreach (Candidate c in candidates)
        {
            // A relayed candidate is contacted from our socket too (its allocation permits our addresses' IPs); that
            // path is Relayed, and it is only tried after the direct ones had a head start.
            SocketAddress? address = mux.ToSocketAddress(c.EndPoint);
            if (address is not null && paths.Count < LinkDescriptor.MaxCandidates)
            {
                paths.Add(new DirectUdpPath(mux, address, KindOf(c.Type)));
            }
        }

        Volatile.Write(ref _candidatePaths, paths);

        // New candidates: probe them soon if the link is on the relay.
        _paths.ProbeSoon();

        // The path in use may have been learned before the peer's candidates arrived (peer-reflexive then): its kind
        // follows the candidate now listed at that address.
        if (_path is DirectUdpPath inUse)
        {
            foreach (DirectUdpPath candidate in paths)
            {
                if (candidate.IsSameAddress(inUse.Remote) && candidate.Kind != inUse.Kind)
                {
                    Adopt(new DirectUdpPath(mux, inUse.Remote, candidate.Kind));
                    break;
                }
            }
        }

        if (paths.Count == 0 && _path is null)
        {
            string? turnFailure = _manager.Nat?.TurnAuthenticationFailure;
            SetStatus(turnFailure is not null
                ? new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.TurnAuthenticationFailed, turnFailure)
                : new LinkStatus(LinkState.Failed, LinkPath.None, LinkFailureReason.NoCandidates, "no candidate of the peer is reachable from this socket's address family"));
            return;
        }

        // Both sides start at once when a controller creates the link: the peer may have dropped our earlier
        // initiation because it had not authorized our key yet. Simultaneous initiations resolve in OnInitiation
        // (the lower key's handshake wins).
        _handshake.Restart();
        if (_pending is null)
        {
            if (StartIce())
            {
                // Checks first (RFC 8445 ideas); the handshake follows on the selected pair, or on every path if the
                // checks have chosen nothing in time (a peer that cannot answer them still links).
                _handshake.Defer(_manager.Time.GetTimestamp() + _timings.IceWait);
            }
            else
            {
                BeginEpisode();
            }
        }
        else if (replaced)
        {
            // An initiation is out, but to the candidates just replaced: both sides moved at once, each one's first
            // initiation went to the other's old address, and the new candidates came through signaling seconds later,
            // when the retries are already backed off by seconds (the lab measured 4 to 5 s of that wait). A fresh
            // episode goes to the new candidates now; the peer's crossing one resolves as any glare does.
            StopIce();
            BeginEpisode();
        }
    }

    /// <summary>
    /// Control loop: our underlay address changed. The peer learns the new address from the next authenticated packet
    /// it gets from it (it follows the source, WireGuard section 2.1), so that packet goes now, not at the next keepalive:
    /// a keepalive over the path in use, and a handshake over every path (the relay after the direct head start), whose
    /// answer confirms a path or finds another. A link without a session restarts its checks from the new bases.
    /// </summary>
    internal void OnUnderlayMoved()
    {
        if (_closed)
        {
            return;
        }

        _manager.LogLinkRoaming(this);
        if (_current is null)
        {
            if (_pending is null && !_handshake.Deferred)
            {
                StartOnLoop(_candidates);
            }

            return;
        }

        SendKeepalive();
        _paths.ProbeSoon();
        _handshake.Restart();
        if (_handshake.CanBegin)
        {
            BeginEpisode();
        }
    }

    // Control loop: which path to use after an authenticated datagram from `from` (through our relay when `relay`
    // is set), as the path selector decides.
    private ILinkPath ObservePath(SocketAddress from, RelayedPath? relay, long now, bool handshake)
    {
        ILinkPath? current = _path;
        PathArrival arrival = relay is not null ? PathArrival.OurRelay : IsPeerRelayAddress(from) ? PathArrival.PeerRelay : PathArrival.Direct;
        bool arrivalIsCurrent = relay is not null ? ReferenceEquals(current, relay) : current is DirectUdpPath d && d.IsSameAddress(from);
        switch (_paths.Observe(current?.Kind, arrival, arrivalIsCurrent, now, handshake))
        {
            case PathVerdict.Keep:
                return current!;
            case PathVerdict.Follow:
                current!.OnAuthenticatedFrom(from);
                return current;
            default:
                return Adopt(relay ?? (ILinkPath)NewDirectPath(from));
        }
    }

    private DirectUdpPath NewDirectPath(SocketAddress from)
    {
        // The kind comes from the peer's candidate at that address; an address the peer did not list is one a
        // NAT gave it (peer-reflexive, RFC 8445 section 7.2.5.3.1).
        LinkPath kind = LinkPath.DirectPeerReflexive;
        foreach (DirectUdpPath candidate in _candidatePaths)
        {
            if (candidate.IsSameAddress(from))
            {
                kind = candidate.Kind;
                break;
            }
        }

        var copy = new SocketAddress(from.Family, from.Size);
        from.Buffer.Span.CopyTo(copy.Buffer.Span);
        return new DirectUdpPath(_manager.Mux!, copy, kind);
    }

    // Control loop.
    private ILinkPath Adopt(ILinkPath path)
    {
        ILinkPath? previous = _path;
        Volatile.Write(ref _path, path);
        Publish();
        if (path is RelayedPath relayed)
        {
            relayed.Activate();
        }

        if (path.Kind == LinkPath.Relayed)
        {
            // Probe the direct candidates at the next wakeup: the relay answered first, a direct path may still work.
            _paths.ProbeSoon();
        }

        if (previous is not null)
        {
            _manager.LogLinkPathChanged(this, previous.Kind, path.Kind, path);
            if (_current is not null && _status.State == LinkState.Connected && previous.Kind != path.Kind)
            {
                SetStatus(ConnectedStatuses[(int)path.Kind]);
            }
        }

        return path;
    }

    private bool IsPeerRelayAddress(SocketAddress from)
    {
        foreach (DirectUdpPath candidate in _candidatePaths)
        {
            if (candidate.Kind == LinkPath.Relayed && candidate.IsSameAddress(from))
            {
                return true;
            }
        }

        return false;
    }

    private static LinkPath KindOf(CandidateType type) => type switch
    {
        CandidateType.Host => LinkPath.DirectHost,
        CandidateType.ServerReflexive => LinkPath.DirectServerReflexive,
        CandidateType.PeerReflexive => LinkPath.DirectPeerReflexive,
        _ => LinkPath.Relayed,
    };

    private Candidate? LocalCandidateOf(ILinkPath? path) =>
        path is RelayedPath relayed ? relayed.LocalCandidate ?? _manager.LocalHostCandidate : _manager.LocalCandidateToward(path?.RemoteEndPoint);

    private Candidate? RemoteCandidateOf(ILinkPath? path)
    {
        IPEndPoint? remote = path?.RemoteEndPoint;
        if (remote is null)
        {
            return null;
        }

        foreach (Candidate c in _candidates)
        {
            if (c.EndPoint.Equals(remote))
            {
                return c;
            }
        }

        return new Candidate(CandidateType.PeerReflexive, remote, Candidate.ComputePriority(CandidateType.PeerReflexive, 0), "prflx");
    }
}
