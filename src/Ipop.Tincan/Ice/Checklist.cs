using System.Net;

namespace Ipop.Tincan.Ice;

/// <summary>
/// The checklist of one link (RFC 8445 §6.1.2 ideas, one component): forms and orders candidate pairs,
/// says which check to send next (triggered checks first, then by priority, paced), tracks
/// retransmissions and outcomes, learns peer-reflexive candidates, and nominates the pair the link uses.
/// </summary>
/// <remarks>
/// Pure and clock-driven: the owner (the link's <see cref="IceAgent"/>, on the node's control loop) passes the current time in,
/// sends what <see cref="Poll"/> returns and reports answers back. Not thread-safe by design.
/// Local candidates that send from the node's own socket (host and server-reflexive) share one base,
/// so server-reflexive locals are pruned in favour of the host base (§6.1.2.4); relayed locals pair
/// with every remote candidate of their family.
/// </remarks>
internal sealed class Checklist
{
    private readonly List<CheckEntry> _entries = [];
    private readonly LinkedList<(CheckEntry Entry, bool UseCandidate)> _triggered = new();
    private readonly List<Candidate> _locals;
    private readonly CheckSchedule _schedule;
    private TimeSpan _nextOrdinary = TimeSpan.Zero;
    private TimeSpan? _firstSuccessAt;
    private TimeSpan _nextDirectRecheck = TimeSpan.MaxValue;
    private TimeSpan _nextConsent = TimeSpan.MaxValue;

    public Checklist(bool controlling, IEnumerable<Candidate> localCandidates, CheckSchedule? schedule = null)
    {
        Controlling = controlling;
        _schedule = schedule ?? CheckSchedule.Default;
        _locals = [.. localCandidates.Where(c => c.Type is CandidateType.Host or CandidateType.Relayed)];
    }

    /// <summary>Whether we nominate (RFC 8445 §6.1.1); may flip on a role conflict (487).</summary>
    public bool Controlling { get; set; }

    /// <summary>Pairs in priority order with their state.</summary>
    public IReadOnlyList<CheckEntry> Entries => _entries;

    /// <summary>The pair the link uses, once nominated.</summary>
    public CheckEntry? Selected { get; private set; }

    /// <summary>True when every pair failed and nothing is pending: the link cannot form (yet).</summary>
    public bool Exhausted => _entries.Count > 0 && _entries.All(e => e.State == CandidatePairState.Failed) && _triggered.Count == 0;

    /// <summary>Adds remote candidates (from the peer's descriptor) and forms pairs with them.</summary>
    public void AddRemoteCandidates(IEnumerable<Candidate> remotes)
    {
        foreach (Candidate remote in remotes)
        {
            foreach (Candidate local in _locals)
            {
                // Not from our relay to the peer's host candidates: those are usually private addresses the TURN
                // server cannot route to, and coturn closes the whole allocation when a relayed send fails with
                // "network unreachable" (seen in the NAT lab). A host the relay can reach is reachable directly.
                if (local.Type == CandidateType.Relayed && remote.Type == CandidateType.Host)
                {
                    continue;
                }

                if (local.EndPoint.AddressFamily == remote.EndPoint.AddressFamily)
                {
                    AddPair(local, remote);
                }
            }
        }
    }

    /// <summary>
    /// A check request arrived from <paramref name="source"/> for a local candidate. Finds or learns the
    /// pair (a peer-reflexive remote when the source is new, §7.3.1.3), schedules a triggered check
    /// (§7.3.1.4), and applies USE-CANDIDATE when we are controlled (§7.3.1.5).
    /// </summary>
    public CheckEntry? OnCheckRequest(Candidate local, IPEndPoint source, uint peerPriority, bool useCandidate, TimeSpan now)
    {
        CheckEntry? entry = Find(local, source);
        if (entry is null)
        {
            var prflx = new Candidate(CandidateType.PeerReflexive, source, peerPriority, "prflx");
            entry = AddPair(local, prflx);
            if (entry is null)
            {
                return null;
            }
        }

        if (useCandidate && !Controlling)
        {
            entry.NominatedByPeer = true;
            if (entry.State == CandidatePairState.Succeeded)
            {
                SelectIfBetter(entry, now);
            }
        }

        // Section 7.3.1.4: a pair in progress is checked again at once too. Its earlier check was probably dropped
        // before the peer was ready (its link did not exist yet); waiting for that check's retransmission timer
        // would only add a round of backoff now that the peer has shown it is there.
        if (entry.State is CandidatePairState.Waiting or CandidatePairState.Failed or CandidatePairState.InProgress)
        {
            bool nominating = entry.State == CandidatePairState.InProgress && entry.PendingUseCandidate;
            entry.State = CandidatePairState.Waiting;
            entry.Attempts = 0;
            Trigger(entry, useCandidate: nominating, front: true);
        }

        return entry;
    }

    /// <summary>The next check to transmit now, or <c>null</c> when nothing is due.</summary>
    public PendingCheck? Poll(TimeSpan now)
    {
        // Retransmissions and timeouts of checks in flight.
        foreach (CheckEntry e in _entries)
        {
            if (e.State != CandidatePairState.InProgress || e.NextRetransmitAt > now)
            {
                continue;
            }

            if (e.Attempts >= _schedule.MaxAttempts)
            {
                Fail(e, now);
                continue;
            }

            return Transmit(e, e.PendingUseCandidate, now, retransmit: true);
        }

        // These only queue triggered checks, so they run before the queue is served.
        MaybeNominate(now);
        MaybeCheckConsent(now);
        MaybeRecheckDirect(now);

        if (_triggered.First is { } first)
        {
            _triggered.RemoveFirst();
            (CheckEntry entry, bool useCandidate) = first.Value;
            entry.Attempts = 0;
            return Transmit(entry, useCandidate, now, retransmit: false);
        }

        if (now >= _nextOrdinary)
        {
            foreach (CheckEntry e in _entries)
            {
                if (e.State == CandidatePairState.Waiting)
                {
                    _nextOrdinary = now + _schedule.Pacing;
                    e.Attempts = 0;
                    return Transmit(e, useCandidate: false, now, retransmit: false);
                }
            }
        }

        return null;
    }

    /// <summary>When <see cref="Poll"/> may next have something to send (for the agent's timer).</summary>
    public TimeSpan NextWakeUp(TimeSpan now)
    {
        TimeSpan next = _nextConsent;
        if (_triggered.Count > 0)
        {
            return now;
        }

        foreach (CheckEntry e in _entries)
        {
            if (e.State == CandidatePairState.InProgress && e.NextRetransmitAt < next)
            {
                next = e.NextRetransmitAt;
            }
            else if (e.State == CandidatePairState.Waiting && _nextOrdinary < next)
            {
                next = _nextOrdinary;
            }
        }

        // Only a deadline still ahead: one that passed was acted on by the Poll before this call, and returning
        // "now" for it would spin the agent's timer until the nomination is answered.
        if (Controlling && Selected is null && _firstSuccessAt is { } first)
        {
            TimeSpan at = first + NominationDelayFor(_entries.FirstOrDefault(e => e.State == CandidatePairState.Succeeded));
            if (at > now && at < next)
            {
                next = at;
            }
        }

        if (_nextDirectRecheck < next)
        {
            next = _nextDirectRecheck;
        }

        return next < now ? now : next;
    }

    /// <summary>A success response to the check on <paramref name="entry"/> arrived (§7.2.5.3).</summary>
    public void OnSuccess(CheckEntry entry, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        bool wasNomination = entry.PendingUseCandidate;
        entry.RoundTripTime = now - entry.LastSentAt;
        entry.LastResponseAt = now;
        if (entry.State != CandidatePairState.Succeeded)
        {
            entry.State = CandidatePairState.Succeeded;
            _firstSuccessAt ??= now;
        }

        entry.PendingUseCandidate = false;
        if ((Controlling && wasNomination) || (!Controlling && entry.NominatedByPeer))
        {
            SelectIfBetter(entry, now);
        }
    }

    /// <summary>An error response (other than a role conflict) or an ICMP error failed the check.</summary>
    public void OnFailure(CheckEntry entry, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Fail(entry, now);
    }

    /// <summary>A 487 Role Conflict: switch role and check the pair again (§7.2.5.1).</summary>
    public void OnRoleConflict(CheckEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Controlling = !Controlling;
        entry.State = CandidatePairState.Waiting;
        Trigger(entry, useCandidate: false, front: true);
    }

    private CheckEntry? AddPair(Candidate local, Candidate remote)
    {
        if (_entries.Count >= _schedule.MaxPairs || Find(local, remote.EndPoint) is not null)
        {
            return null;
        }

        ulong priority = Controlling
            ? CandidatePair.ComputePriority(local.Priority, remote.Priority)
            : CandidatePair.ComputePriority(remote.Priority, local.Priority);
        var entry = new CheckEntry(new CandidatePair(local, remote, priority));
        int index = _entries.FindIndex(e => e.Pair.Priority < priority);
        _entries.Insert(index < 0 ? _entries.Count : index, entry);
        return entry;
    }

    private CheckEntry? Find(Candidate local, IPEndPoint remote)
    {
        foreach (CheckEntry e in _entries)
        {
            if (e.Pair.Remote.EndPoint.Equals(remote) && SameBase(e.Pair.Local, local))
            {
                return e;
            }
        }

        return null;
    }

    private static bool SameBase(Candidate a, Candidate b) =>
        a.Type == CandidateType.Relayed || b.Type == CandidateType.Relayed
            ? a.Type == b.Type && a.EndPoint.Equals(b.EndPoint)
            : a.Type == b.Type && a.EndPoint.AddressFamily == b.EndPoint.AddressFamily;

    private PendingCheck Transmit(CheckEntry e, bool useCandidate, TimeSpan now, bool retransmit)
    {
        e.State = CandidatePairState.InProgress;
        e.PendingUseCandidate = useCandidate;
        long rtoTicks = Math.Min(_schedule.InitialRto.Ticks << Math.Min(e.Attempts, 20), _schedule.MaxRto.Ticks);
        e.Attempts++;
        e.LastSentAt = now;
        e.NextRetransmitAt = now + TimeSpan.FromTicks(rtoTicks);
        return new PendingCheck(e, useCandidate, retransmit);
    }

    private void Trigger(CheckEntry entry, bool useCandidate, bool front)
    {
        for (LinkedListNode<(CheckEntry Entry, bool UseCandidate)>? n = _triggered.First; n is not null; n = n.Next)
        {
            if (ReferenceEquals(n.Value.Entry, entry))
            {
                _triggered.Remove(n);
                break;
            }
        }

        if (front)
        {
            _triggered.AddFirst((entry, useCandidate));
        }
        else
        {
            _triggered.AddLast((entry, useCandidate));
        }
    }

    private void Fail(CheckEntry e, TimeSpan now)
    {
        e.State = CandidatePairState.Failed;
        e.PendingUseCandidate = false;
        if (ReferenceEquals(Selected, e))
        {
            // The path in use died: fall back to the best pair still known to work, and re-check the rest.
            Selected = null;
            _nextConsent = TimeSpan.MaxValue;
            CheckEntry? fallback = _entries.FirstOrDefault(x => x.State == CandidatePairState.Succeeded);
            if (fallback is not null)
            {
                if (Controlling)
                {
                    Trigger(fallback, useCandidate: true, front: true);
                }
                else
                {
                    Select(fallback, now);
                }
            }

            foreach (CheckEntry x in _entries)
            {
                if (x.State == CandidatePairState.Failed && !ReferenceEquals(x, e))
                {
                    x.State = CandidatePairState.Waiting;
                }
            }
        }
    }

    // Several nominations can be in flight (an upgrade is nominated while an earlier one is answered): the link
    // keeps the best nominated pair instead of following whichever answer came last (RFC 8445 section 8.1.1).
    private void SelectIfBetter(CheckEntry entry, TimeSpan now)
    {
        if (Selected is null || ReferenceEquals(Selected, entry) || entry.Pair.Priority > Selected.Pair.Priority)
        {
            Select(entry, now);
        }
    }

    private void Select(CheckEntry entry, TimeSpan now)
    {
        Selected = entry;
        entry.Nominated = true;
        _nextConsent = now + _schedule.ConsentInterval;
        _nextDirectRecheck = entry.Pair.PathKind == LinkPath.Relayed ? now + _schedule.DirectRecheckInterval : TimeSpan.MaxValue;
    }

    private void MaybeNominate(TimeSpan now)
    {
        if (!Controlling || _firstSuccessAt is null)
        {
            return;
        }

        CheckEntry? best = _entries.FirstOrDefault(e => e.State == CandidatePairState.Succeeded);
        if (best is null || best.PendingUseCandidate || ReferenceEquals(best, Selected))
        {
            return;
        }

        // Nominate once every better pair has failed, or after a short wait for better pairs to finish;
        // an upgrade (a better pair succeeding after selection) is nominated at once.
        bool betterPending = _entries.TakeWhile(e => !ReferenceEquals(e, best)).Any(e => e.State != CandidatePairState.Failed);
        if (Selected is not null || !betterPending || now >= _firstSuccessAt.Value + NominationDelayFor(best))
        {
            if (Selected is null || best.Pair.Priority > Selected.Pair.Priority)
            {
                Trigger(best, useCandidate: true, front: true);
            }
        }
    }

    // The relay is the last resort: while direct pairs are still being checked it gets a longer wait.
    private TimeSpan NominationDelayFor(CheckEntry? best) =>
        best?.Pair.PathKind == LinkPath.Relayed ? _schedule.RelayedNominationDelay : _schedule.NominationDelay;

    private void MaybeCheckConsent(TimeSpan now)
    {
        if (Selected is not { } s || now < _nextConsent)
        {
            return;
        }

        _nextConsent = now + _schedule.ConsentInterval;
        if (now - s.LastResponseAt > _schedule.ConsentTimeout)
        {
            Fail(s, now);
            return;
        }

        if (s.State == CandidatePairState.Succeeded)
        {
            Trigger(s, useCandidate: false, front: false);
        }
    }

    private void MaybeRecheckDirect(TimeSpan now)
    {
        if (now < _nextDirectRecheck)
        {
            return;
        }

        _nextDirectRecheck = Selected?.Pair.PathKind == LinkPath.Relayed ? now + _schedule.DirectRecheckInterval : TimeSpan.MaxValue;
        foreach (CheckEntry e in _entries)
        {
            if (e.State == CandidatePairState.Failed && e.Pair.PathKind != LinkPath.Relayed)
            {
                e.State = CandidatePairState.Waiting;
            }
        }
    }
}

/// <summary>The check state of one pair, owned by its <see cref="Checklist"/>.</summary>
internal sealed class CheckEntry(CandidatePair pair)
{
    public CandidatePair Pair { get; } = pair;

    public CandidatePairState State { get; set; } = CandidatePairState.Waiting;

    public int Attempts { get; set; }

    public TimeSpan LastSentAt { get; set; }

    public TimeSpan NextRetransmitAt { get; set; }

    public TimeSpan LastResponseAt { get; set; }

    public TimeSpan? RoundTripTime { get; set; }

    public bool PendingUseCandidate { get; set; }

    public bool NominatedByPeer { get; set; }

    public bool Nominated { get; set; }

    /// <summary>The STUN transaction of the check in flight (set by the agent).</summary>
    public UInt128 TransactionId { get; set; }

    /// <summary>
    /// The transaction before it: a check replaced by a triggered one is cancelled, not forgotten, and its answer
    /// still counts (RFC 8445 section 7.2.5.4 / 7.3.1.4).
    /// </summary>
    public UInt128 PreviousTransactionId { get; set; }

    /// <summary>Checks sent on this pair, retransmissions included (diagnostics: <c>why PEER</c>).</summary>
    public int Sent { get; set; }

    /// <summary>Authenticated answers to them from the checked address (success or error).</summary>
    public int Answered { get; set; }

    /// <summary>Checks from the peer that arrived on this pair.</summary>
    public int PeerChecks { get; set; }

    public override string ToString() => $"{Pair} {State}";
}

/// <summary>A check the agent must transmit now.</summary>
internal readonly record struct PendingCheck(CheckEntry Entry, bool UseCandidate, bool IsRetransmission);
