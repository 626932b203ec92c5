using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan.Diagnostics;
using Ipop.Tincan.Ice;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// What <c>peers</c> and <c>why PEER</c> show: the last failure and the connectivity checks' per-pair outcome, kept when
/// the checks stop (they stop once a session exists, so a relayed link still knows which direct pairs failed). Written
/// on the control loop at rare moments (a status change, the end of the checks); nothing per packet.
/// </summary>
internal sealed partial class TincanLink
{
    // Both control loop only.
    private LinkStatus? _lastFailure;
    private ImmutableArray<PairCheckReport> _lastChecks = [];

    // Control loop (SetStatus): a failure stays readable after the link recovers or is retried.
    private void RememberFailure(LinkStatus status)
    {
        if (status.State == LinkState.Failed)
        {
            _lastFailure = status;
        }
    }

    // Control loop (StopIce): the agent's pairs are about to go; their outcome stays.
    private void KeepCheckOutcomes(IceAgent? agent)
    {
        if (agent is not null && agent.Checklist.Entries.Count > 0)
        {
            _lastChecks = ChecksOf(agent.Checklist, _selectedPair);
        }
    }

    /// <summary>
    /// Tests and debugging: the sessions' local indices (current, next, the receivable older ones), the pending
    /// initiation and how many sessions were retired. Read without the loop, so it may mix two moments.
    /// </summary>
    internal string SessionSummary
    {
        get
        {
            var older = new System.Text.StringBuilder();
            foreach (Session? s in _older.ToArray())
            {
                older.Append(s?.LocalIndex).Append(' ');
            }

            return $"current={Volatile.Read(ref _current)?.LocalIndex} next={Volatile.Read(ref _next)?.LocalIndex} older=[{older.ToString().TrimEnd()}] " +
                $"pending={Volatile.Read(ref _pending)?.LocalIndex} retired={Volatile.Read(ref _retiredSessions)} prefersInitiating={PrefersInitiating}";
        }
    }

    /// <summary>
    /// Tests on a fake clock: true while this side has sent a handshake initiation that is not yet answered, so a test
    /// can let the real sockets finish a handshake before it moves time again (a retry would otherwise replace it).
    /// </summary>
    internal bool HandshakePending => Volatile.Read(ref _pending) is not null;

    /// <summary>A report of the link, read on the control loop so it is one consistent moment.</summary>
    internal Task<LinkReport> DescribeAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<LinkReport>(TaskCreationOptions.RunContinuationsAsynchronously);
        _manager.Control.Post(() => done.TrySetResult(Describe()));
        return done.Task.WaitAsync(LinkManager.ControllerWait, _manager.Time, cancellationToken);
    }

    // Control loop.
    private LinkReport Describe()
    {
        LinkStats stats = GetStats();
        ILinkPath? path = _path;
        Session? current = Volatile.Read(ref _current);
        TimeSpan? sinceHandshake = current is null ? null : _manager.Time.GetElapsedTime(current.Created);
        TimeSpan? sinceReceived = stats.LastReceived is { } at ? _manager.Time.GetUtcNow() - at : null;
        bool running = _ice is not null;
        ImmutableArray<PairCheckReport> checks = _ice is { } agent ? ChecksOf(agent.Checklist, _selectedPair) : _lastChecks;
        var locals = new List<Candidate>();
        foreach (Candidate b in _manager.CheckBases())
        {
            if (!IsAnyAddress(b))
            {
                locals.Add(b);
                continue;
            }

            // A socket on the any address: show the source address the kernel uses toward each of the peer's candidates.
            foreach (Candidate remote in _candidates)
            {
                if (IsIPv4(remote.EndPoint.Address) == IsIPv4(b.EndPoint.Address) && Shown(b, remote.EndPoint) is { } shown && !locals.Contains(shown))
                {
                    locals.Add(shown);
                }
            }
        }

        if (_manager.Nat is { } nat)
        {
            int afterHosts = locals.FindLastIndex(c => c.Type == CandidateType.Host) + 1;
            locals.InsertRange(afterHosts, nat.ServerReflexiveCandidates);
        }

        LinkStatus status = Status;
        return new LinkReport(
            Peer,
            status,
            status.State == LinkState.Connected ? status.Path : LinkPath.None,
            stats.LocalCandidate,
            stats.RemoteCandidate,
            TurnServerOf(path, stats.RemoteCandidate),
            stats.RoundTripTime,
            new LinkTraffic(stats.BytesSent, stats.BytesReceived, stats.PacketsSent, stats.PacketsReceived),
            sinceHandshake,
            sinceReceived,
            _lastFailure,
            locals,
            [.. _candidates],
            checks,
            running);
    }

    /// <summary>The TURN server a relayed path goes through: ours (we send through our allocation), or the peer's (we send to its relayed address).</summary>
    internal static string? TurnServerOf(ILinkPath? path, Candidate? remote) =>
        path is RelayedPath relayed ? relayed.Allocation.ServerAddress.ToString()
        : remote is { Type: CandidateType.Relayed } ? remote.Server ?? remote.EndPoint.ToString()
        : null;

    private static bool IsAnyAddress(Candidate c) =>
        c.Type == CandidateType.Host && (c.EndPoint.Address.Equals(IPAddress.Any) || c.EndPoint.Address.Equals(IPAddress.IPv6Any));

    private static bool IsIPv4(IPAddress a) => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || a.IsIPv4MappedToIPv6;

    // "host 0.0.0.0:port" says nothing: the source address toward the peer does (a connected throwaway socket, cached).
    private Candidate Shown(Candidate local, IPEndPoint toward) =>
        IsAnyAddress(local) && _manager.LocalCandidateToward(toward) is { } source && !IsAnyAddress(source) ? source : local;

    private ImmutableArray<PairCheckReport> ChecksOf(Checklist checklist, CandidatePair? selected)
    {
        ImmutableArray<PairCheckReport>.Builder list = ImmutableArray.CreateBuilder<PairCheckReport>(checklist.Entries.Count);
        foreach (CheckEntry e in checklist.Entries)
        {
            list.Add(new PairCheckReport(Shown(e.Pair.Local, e.Pair.Remote.EndPoint), e.Pair.Remote, StateOf(e.State), e.Sent, e.Answered, e.PeerChecks, ReferenceEquals(e.Pair, selected)));
        }

        return list.MoveToImmutable();
    }

    private static PairCheckOutcome StateOf(CandidatePairState state) => state switch
    {
        CandidatePairState.Succeeded => PairCheckOutcome.Succeeded,
        CandidatePairState.Failed => PairCheckOutcome.Failed,
        CandidatePairState.InProgress => PairCheckOutcome.InProgress,
        _ => PairCheckOutcome.Waiting,
    };
}
