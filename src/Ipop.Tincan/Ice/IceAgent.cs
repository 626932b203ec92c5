using System.Net;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Ice;

/// <summary>
/// The connectivity checks of one link before its first handshake (RFC 8445 ideas): STUN Binding requests on
/// every candidate pair of the <see cref="Checklist"/>, authenticated with short-term credentials (section 7.2.2:
/// USERNAME "remote:local" from the two descriptors; MESSAGE-INTEGRITY keyed not with the peer's password but with the
/// link's own <see cref="CheckKeys.Outbound"/>, which no third peer can compute), with
/// PRIORITY, ICE-CONTROLLING/ICE-CONTROLLED and USE-CANDIDATE. The link sends its Noise handshake on the pair the
/// checklist selects.
/// </summary>
/// <remarks>
/// Not thread-safe: the owning link calls every member on its node's control loop (its timer's and the receive
/// thread's events are posted there).
/// Check requests from the peer are answered by <see cref="NatTraversal"/> whether or not an agent runs, so a
/// peer that is still checking always gets its answers.
/// </remarks>
internal sealed class IceAgent : IDisposable
{
    private readonly NatTraversal _nat;
    private readonly TincanLink _link;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly string _username;
    private readonly byte[] _remoteKey;
    private readonly ulong _tieBreaker;
    private readonly byte[] _buffer = new byte[ILinkPath.Headroom + 160];
    private bool _disposed;

    public IceAgent(NatTraversal nat, TincanLink link, bool controlling, IEnumerable<Candidate> locals, string localUsername, string remoteUsername, byte[] outboundKey, ulong tieBreaker)
    {
        _nat = nat;
        _link = link;
        _time = link.Manager.Time;
        _started = _time.GetTimestamp();
        _username = remoteUsername + ":" + localUsername;
        _remoteKey = outboundKey;
        _tieBreaker = tieBreaker;
        Checklist = new Checklist(controlling, locals);
    }

    public Checklist Checklist { get; }

    /// <summary>Time on the checklist's clock.</summary>
    public TimeSpan Now => _time.GetElapsedTime(_started);

    /// <summary>Sends every check that is due; returns how long until the next one may be.</summary>
    public TimeSpan Run()
    {
        TimeSpan now = Now;
        for (int i = 0; i < 64 && !_disposed && Checklist.Poll(now) is { } check; i++)
        {
            Send(check);
        }

        TimeSpan next = Checklist.NextWakeUp(now);
        return next == TimeSpan.MaxValue ? Timeout.InfiniteTimeSpan : next - now;
    }

    /// <summary>A check request from the peer (already authenticated by <see cref="NatTraversal"/>).</summary>
    public void OnRequest(Candidate local, IPEndPoint source, uint priority, bool useCandidate)
    {
        if (Checklist.OnCheckRequest(local, source, priority, useCandidate, Now) is { } entry)
        {
            entry.PeerChecks++;
        }
    }

    /// <summary>
    /// A response to one of our checks (ignored if it is for none of this agent's pairs). Answers from another address
    /// than the one checked (RFC 8445 section 7.2.5.2.1) fail the pair. Unauthenticated responses are discarded as if
    /// never received (RFC 8489 section 9.1.4): a forger must not fail a pair whose genuine answer is still coming.
    /// </summary>
    public void OnResponse(in StunMessage response, IPEndPoint from)
    {
        UInt128 id = ToUInt128(response.TransactionId);
        CheckEntry? entry = null;
        foreach (CheckEntry e in Checklist.Entries)
        {
            if (e.TransactionId == id || e.PreviousTransactionId == id)
            {
                entry = e;
                break;
            }
        }

        if (entry is null)
        {
            return;
        }

        // A late or forged failure must not fail a pair that has moved on (answered, or re-checked meanwhile).
        bool inFlight = entry.State == CandidatePairState.InProgress;
        if (!response.VerifyMessageIntegrity(_remoteKey))
        {
            return;
        }

        if (!EndPointComparison.Same(from, entry.Pair.Remote.EndPoint))
        {
            if (inFlight)
            {
                Checklist.OnFailure(entry, Now);
            }

            return;
        }

        entry.Answered++;
        if (response.Class == StunMessageClass.SuccessResponse)
        {
            Checklist.OnSuccess(entry, Now);
        }
        else if (inFlight && response.TryGetErrorCode(out int code, out _) && code == StunErrorCodes.RoleConflict)
        {
            Checklist.OnRoleConflict(entry);
        }
        else if (inFlight)
        {
            Checklist.OnFailure(entry, Now);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (CheckEntry e in Checklist.Entries)
        {
            _nat.ForgetCheck(FromUInt128(e.TransactionId));
            _nat.ForgetCheck(FromUInt128(e.PreviousTransactionId));
        }
    }

    private void Send(PendingCheck check)
    {
        CheckEntry entry = check.Entry;
        if (!check.IsRetransmission || entry.TransactionId == UInt128.Zero)
        {
            // RFC 8489 section 6.2.1: a retransmission keeps its transaction id; a new check gets a new one, and the
            // one it replaces may still be answered.
            _nat.ForgetCheck(FromUInt128(entry.PreviousTransactionId));
            entry.PreviousTransactionId = entry.TransactionId;
            entry.TransactionId = ToUInt128(StunTransactionId.NewRandom());
        }

        StunTransactionId id = FromUInt128(entry.TransactionId);
        Span<byte> message = _buffer.AsSpan(ILinkPath.Headroom);
        var writer = new StunMessageWriter(message, StunMethod.Binding, StunMessageClass.Request, id);
        writer.AppendString(StunAttributeType.Username, _username);

        // The priority a peer-reflexive candidate learned from this check would get (section 7.1.1).
        uint priority = Candidate.ComputePriority(entry.Pair.Local.Type == CandidateType.Relayed ? CandidateType.Relayed : CandidateType.PeerReflexive, 65535);
        writer.AppendUInt32(StunAttributeType.Priority, priority);
        writer.AppendUInt64(Checklist.Controlling ? StunAttributeType.IceControlling : StunAttributeType.IceControlled, _tieBreaker);
        if (check.UseCandidate)
        {
            writer.AppendFlag(StunAttributeType.UseCandidate);
        }

        writer.AppendMessageIntegrity(_remoteKey);
        writer.AppendFingerprint();
        entry.Sent++;
        _nat.ExpectCheckResponse(id, _link, _remoteKey);
        _nat.SendCheck(_buffer.AsSpan(0, ILinkPath.Headroom + writer.Length), entry.Pair.Local, entry.Pair.Remote.EndPoint);
    }

    private static UInt128 ToUInt128(StunTransactionId id) => new(id.High, id.Low);

    private static StunTransactionId FromUInt128(UInt128 value) => new((ulong)(value >> 64), (uint)value);

    /// <summary>The USERNAME of a check request addressed to <paramref name="localUsername"/>: the sender's part, or null.</summary>
    internal static string? SenderOf(string username, string localUsername)
    {
        int colon = username.IndexOf(':', StringComparison.Ordinal);
        return colon == localUsername.Length && username.StartsWith(localUsername, StringComparison.Ordinal) ? username[(colon + 1)..] : null;
    }
}
