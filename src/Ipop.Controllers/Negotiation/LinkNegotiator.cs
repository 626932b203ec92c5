using System.Threading.Channels;
using Ipop.Controllers.Negotiation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Controllers;

/// <summary>
/// The base for controllers: keeps a link to every peer that an <see cref="ILinkPolicy"/> trusts and one side at least
/// wants (<see cref="ILinkPolicy.WantsLink"/>), negotiating each one over signaling (<see cref="IOverlaySignaling"/>)
/// and creating it in Tincan (<see cref="ITincan"/>). GroupVPN and SocialVPN are built on it; a custom controller
/// supplies its policy and calls <see cref="RunAsync(CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <para>
/// <b>One serialized loop.</b> Signaling events (peers, messages, connection), link events (status, our candidates
/// changed), a deadline timer and work queued with <see cref="Post"/> all go through one channel and are handled one
/// at a time, in order, so neither the negotiator nor its policy needs locks. There is no periodic tick: the timer is
/// armed for the earliest real deadline (a retry, a timeout, a grace ending) and not at all while nothing is due, so
/// an idle node with connected links does not wake up. Event handlers only enqueue; nothing runs on
/// signaling's or Tincan's threads. An event that throws is logged and dropped; the loop carries on.
/// </para>
/// <para>
/// <b>No glare.</b> Of two peers, the one whose <see cref="PeerId"/> sorts lower (ordinal) sends the offer and the
/// other answers; the other side asks for an offer (a request) when it wants a link and none comes. So two offers
/// never cross. Each offer carries a fresh nonce that its answer echoes: an answer is accepted only for the offer
/// being waited on, so duplicated, late or crossing messages never create a link twice, and a key is bound only
/// through an exchange this node started or accepted. An offer whose descriptor matches a healthy link keeps it.
/// </para>
/// <para>
/// <b>Wanted links.</b> A trusted peer gets a link from this side only if <see cref="ILinkPolicy.WantsLink"/> says so
/// (a full mesh by default). A trusted peer that is not wanted gets no offer or request and no retries from this node,
/// but its offers and requests are answered, and the link it started stays while it is up; when that link fails or
/// closes, it is removed here and not retried (the peer retries if it still wants it). When the answer turns true, a
/// link starts at once; when it turns false for a link this side has, this side sends <c>ipop-link-release</c> and
/// removes its end, and the peer removes its end too (and starts its own link if it wants one).
/// </para>
/// <para>
/// <b>Retries with backoff and jitter.</b> Liveness does not hang on events: when a deadline comes, the negotiator looks
/// at each wanted peer and, whatever state its link is in (none, failed, still connecting after
/// <see cref="NegotiationSettings.ConnectTimeout"/>, removed underneath, offer unanswered after
/// <see cref="NegotiationSettings.AnswerTimeout"/>, send failed), starts a new attempt once its backoff has passed:
/// <see cref="NegotiationSettings.RetryMin"/> doubling per failed attempt up to <see cref="NegotiationSettings.RetryMax"/>,
/// times a random factor between 0.75 and 1.25 so that peers that failed together do not retry together. A link that
/// comes up resets the backoff.
/// </para>
/// <para>
/// <b>Outages.</b> Losing signaling never removes a link. While it is down nothing is sent and the backoff waits; on
/// its return every peer is checked against signaling's current view and retried at once. Links outlive an outage for
/// <see cref="NegotiationSettings.OutageLinkLifetime"/> at most, since trust cannot be re-checked meanwhile; peers not
/// back after the reconnect keep their link for <see cref="NegotiationSettings.ReconnectGrace"/>, and a peer whose
/// session merely ended keeps a connected link for <see cref="NegotiationSettings.PresenceGrace"/>. When our own
/// candidates change (<see cref="ITincan.LocalCandidatesChanged"/>), every linked peer gets the new descriptor.
/// </para>
/// <para>
/// <b>Stopping.</b> When the token passed to <see cref="RunAsync(CancellationToken)"/> is cancelled, the negotiator
/// unsubscribes from every event and removes every link it made (<see cref="ITincan.RemoveLink"/>, reported to
/// <see cref="ILinkPolicy.OnLinkRemoved"/>), as <see cref="IController.RunAsync"/> requires; then the task ends as
/// cancelled. It does not start or dispose Tincan or signaling: their owner does.
/// </para>
/// <para>
/// Messages of kinds starting with <c>ipop-</c> are the negotiator's (<c>ipop-link-offer</c>, <c>ipop-link-answer</c>,
/// <c>ipop-link-request</c>, <c>ipop-link-release</c>, <c>ipop-address</c>; JSON bodies); any other kind goes to
/// <see cref="ILinkPolicy.OnMessageAsync"/>. Messages from untrusted peers and messages that do not fit an exchange
/// are refused, counted and logged at most once per peer per 10 s.
/// </para>
/// </remarks>
public sealed partial class LinkNegotiator
{
    private const int MaxRememberedOffers = 4096;
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly INegotiationPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NegotiationSettings _settings;
    private readonly LogBudget _refusals;
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>() /* multi-reader kind: it can count, which WhenIdleAsync needs */;
    private readonly Dictionary<PeerId, Peer> _peers = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Our recent offers (also to peers forgotten since), so that a late answer is told from an unsolicited one.
    private readonly HashSet<(PeerId Peer, string Nonce)> _offered = [];
    private readonly Queue<(PeerId Peer, string Nonce)> _offeredOrder = new();
    private readonly Lock _idleGate = new();
    private TaskCompletionSource? _idle;
    private bool _parked;
    private int _running;
    private DateTimeOffset? _outageSince;
    private bool _outageEnded;
    private DateTimeOffset? _graceUntil;

    // How many peers have AwayUntil set: a new session looks for the away sessions it replaces only when there are any.
    private int _awayCount;

    /// <summary>Creates a negotiator; nothing happens until <see cref="RunAsync(CancellationToken)"/>.</summary>
    /// <param name="signaling">Who is online and how to reach them; <see cref="RunAsync(CancellationToken)"/> connects it.</param>
    /// <param name="tincan">The link manager, already started (<see cref="ITincan.StartAsync"/>) by its owner.</param>
    /// <param name="policy">Which peers may have a link.</param>
    /// <param name="settings">Timing; <c>null</c> for the defaults. Checked with <see cref="NegotiationSettings.Validate"/>.</param>
    /// <param name="timeProvider">The clock for the deadline timer, backoff and timeouts; <c>null</c> for <see cref="TimeProvider.System"/> (tests pass a fake one).</param>
    /// <param name="logger">Where the negotiation is logged (event ids 101-120); <c>null</c> for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="signaling"/>, <paramref name="tincan"/> or <paramref name="policy"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value of <paramref name="settings"/> is out of range.</exception>
    public LinkNegotiator(IOverlaySignaling signaling, ITincan tincan, ILinkPolicy policy, NegotiationSettings? settings = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(signaling, tincan, new LinkPolicyAdapter(policy ?? throw new ArgumentNullException(nameof(policy))), Validated(settings ?? new NegotiationSettings()), timeProvider ?? TimeProvider.System, logger ?? NullLogger.Instance)
    {
    }

    internal LinkNegotiator(IOverlaySignaling signaling, ITincan tincan, INegotiationPolicy policy, NegotiationSettings settings, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(signaling);
        ArgumentNullException.ThrowIfNull(tincan);

        // Settings of the built-in controllers come from their options, validated with messages naming the option keys.
        _signaling = signaling;
        _tincan = tincan;
        _policy = policy;
        _time = time;
        _logger = logger;
        _settings = settings;
        _refusals = new LogBudget(time, TimeSpan.FromSeconds(10));
        Jitter = settings.Random;
    }

    private static NegotiationSettings Validated(NegotiationSettings settings)
    {
        settings.Validate();
        return settings;
    }

    /// <summary>
    /// Completes once <see cref="RunAsync(CancellationToken)"/> is subscribed to every signaling and Tincan event,
    /// signaling is connected (<see cref="IOverlaySignaling.ConnectAsync"/> returned), the after-connect step ran and the
    /// peers signaling listed then were looked at: from then on nothing that happens is missed. Tests and samples await
    /// it instead of sleeping before they change the world. Cancelled or faulted like <see cref="RunAsync(CancellationToken)"/>
    /// if that ends first.
    /// </summary>
    public Task Ready => _ready.Task;

    /// <summary>Peers that currently have (or are getting) a link (read on the loop only).</summary>
    internal IEnumerable<PeerId> Peers => _peers.Keys;

    /// <summary>Messages refused because no exchange of ours matched them (unsolicited or stale answers, offers from the wrong role, key conflicts).</summary>
    internal long Refused { get; private set; }

    /// <summary>
    /// Completes when the loop has handled every event queued so far (and those they queued) and waits for more. With a
    /// fake clock and in-memory signaling, a test advances the clock, then awaits this instead of sleeping. Another node's
    /// loop or signaling may still be busy: a test of several nodes waits on all of them until none has work left.
    /// </summary>
    /// <returns>A task that completes when the loop is idle.</returns>
    public Task WhenIdleAsync()
    {
        lock (_idleGate)
        {
            if (_parked && _events.Reader.Count == 0)
            {
                return Task.CompletedTask;
            }

            return (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>
    /// Runs the negotiation until <paramref name="cancellationToken"/> is cancelled: connects signaling, links every
    /// trusted peer and keeps those links up; on cancellation removes every link it made and ends as cancelled.
    /// </summary>
    /// <param name="cancellationToken">Stops the negotiator.</param>
    /// <returns>A task that ends (cancelled) once the links are removed, or faulted if signaling could not connect for good.</returns>
    /// <exception cref="InvalidOperationException">The negotiator runs already (or ran: it runs once).</exception>
    public Task RunAsync(CancellationToken cancellationToken) => RunAsync(static _ => Task.CompletedTask, cancellationToken);

    /// <summary>
    /// Like <see cref="RunAsync(CancellationToken)"/>, with a step that runs once signaling is connected and before the
    /// first peers are looked at: join a group, create a virtual interface and attach it to Tincan.
    /// </summary>
    /// <param name="afterConnect">The step; it runs on the loop, before <see cref="Ready"/> completes.</param>
    /// <param name="cancellationToken">Stops the negotiator.</param>
    /// <returns>A task that ends (cancelled) once the links are removed.</returns>
    /// <exception cref="InvalidOperationException">The negotiator runs already (or ran: it runs once).</exception>
    public Task RunAsync(Func<CancellationToken, Task> afterConnect, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(afterConnect);
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("This LinkNegotiator runs already (or ran): create one per run.");
        }

        return RunCoreAsync(afterConnect, cancellationToken);
    }

    private async Task RunCoreAsync(Func<CancellationToken, Task> afterConnect, CancellationToken cancellationToken)
    {
        _signaling.PeerChanged += OnEvent;
        _signaling.MessageReceived += OnEvent;
        _signaling.ConnectionChanged += OnEvent;
        _tincan.LinkStatusChanged += OnEvent;
        _tincan.LocalCandidatesChanged += OnLocalCandidatesChanged;
        using ITimer deadlines = CreateDeadlineTimer();
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await _signaling.ConnectAsync(cancellationToken);
            await afterConnect(cancellationToken);
            foreach (OverlayPeer peer in _signaling.Peers)
            {
                await HandlePeerAsync(peer, cancellationToken);
            }

            // The policy's first call comes at the first tick; it then says when it needs the next one.
            _policyDueAt = _time.GetUtcNow();
            _ready.TrySetResult();
            if (ManualPump)
            {
                // The test drains the queue itself (DrainAsync), so it decides the order across nodes.
                ArmForNextDeadline();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            while (true)
            {
                object? e;
                bool got;
                lock (_idleGate)
                {
                    got = _events.Reader.TryRead(out e);
                    _parked = false;
                }

                if (!got)
                {
                    // Out of work: arm the timer for what is due next (or queue the tick if it is due already).
                    ArmForNextDeadline();
                    lock (_idleGate)
                    {
                        _parked = !_events.Reader.TryRead(out e);
                        if (_parked)
                        {
                            _idle?.TrySetResult();
                            _idle = null;
                        }
                    }
                }

                if (e is null)
                {
                    await _events.Reader.WaitToReadAsync(cancellationToken);
                    continue;
                }

                await HandleGuardedAsync(e, cancellationToken);
            }
        }
        catch (OperationCanceledException e)
        {
            _ready.TrySetCanceled(e.CancellationToken);
            throw;
        }
        catch (Exception e)
        {
            _ready.TrySetException(e);
            throw;
        }
        finally
        {
            _signaling.PeerChanged -= OnEvent;
            _signaling.MessageReceived -= OnEvent;
            _signaling.ConnectionChanged -= OnEvent;
            _tincan.LinkStatusChanged -= OnEvent;
            _tincan.LocalCandidatesChanged -= OnLocalCandidatesChanged;
            foreach (Peer p in _peers.Values.ToList())
            {
                _tincan.RemoveLink(p.Id);
                if (p.Link is not null)
                {
                    StopQuietly(p.Id, p.Link);
                }
            }

            _peers.Clear();
            _awayCount = 0;
            lock (_idleGate)
            {
                // Nobody waits forever on a loop that is gone.
                _parked = true;
                _idle?.TrySetResult();
                _idle = null;
            }
        }
    }

    /// <summary>
    /// Tests only, set before <see cref="RunAsync(CancellationToken)"/>: after starting, the loop handles nothing by
    /// itself and the test calls <see cref="DrainAsync"/>, so a run with seeded faults on a fake clock is repeatable.
    /// </summary>
    internal bool ManualPump { get; set; }

    /// <summary>Source of backoff jitter (tests seed it).</summary>
    internal Random Jitter { get; set; } = Random.Shared;

    /// <summary>
    /// Events queued and not handled yet. With <see cref="ManualPump"/>, a pump may skip a negotiator with none: its last
    /// drain armed the deadline timer for the state it left.
    /// </summary>
    internal int PendingEvents => _events.Reader.Count;

    /// <summary>With <see cref="ManualPump"/>: handles every queued event (and those they queue) on the caller's flow.</summary>
    /// <returns>How many events were handled.</returns>
    internal async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        int handled = 0;
        while (handled < 100_000)
        {
            if (!_events.Reader.TryRead(out object? e))
            {
                ArmForNextDeadline();
                if (!_events.Reader.TryRead(out e))
                {
                    break;
                }
            }

            handled++;
            await HandleGuardedAsync(e, cancellationToken);
        }

        return handled;
    }

    /// <summary>
    /// Queues <paramref name="work"/> onto the negotiator's loop (from any thread): it runs after the events queued before
    /// it and never at the same time as an event or a policy callback, so it may change the policy's state without locks.
    /// An exception it throws is logged. Queued work is dropped when the negotiator stops.
    /// </summary>
    /// <param name="work">The work; its token is cancelled when the negotiator stops.</param>
    public void Post(Func<CancellationToken, Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        _events.Writer.TryWrite(work);
    }

    /// <summary>
    /// Asks the policy again about every peer signaling lists (and every peer with a link): call it after the policy's
    /// answer may have changed for a reason signaling does not report (an allow-list edited, a status message). Peers
    /// no longer trusted lose their links; peers now trusted get one. Queued onto the loop like <see cref="Post"/>;
    /// does nothing while signaling is down (its return re-checks everyone anyway).
    /// </summary>
    public void RecheckTrust() => _events.Writer.TryWrite(RecheckEvent.Instance);

    /// <summary>Sends our current addresses to every linked or wanted peer (after they changed).</summary>
    internal async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        foreach (Peer p in _peers.Values)
        {
            if (p.Link is null && !p.Wanted)
            {
                continue; // a trusted peer nobody links to gets no messages; a link that forms later carries the addresses
            }

            await SendAsync(p, LinkNegotiationMessage.AddressKind, null, cancellationToken);
        }
    }

    private void OnEvent(object? sender, EventArgs e) => _events.Writer.TryWrite(e);

    private async Task HandleGuardedAsync(object e, CancellationToken ct)
    {
        try
        {
            await HandleAsync(e, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // One bad event must never stop the controller serving everyone else.
            LogEventFailed(_logger, e.GetType().Name, ex);
        }
    }

    private Task HandleAsync(object e, CancellationToken ct) => e switch
    {
        OverlayPeerEventArgs p => HandlePeerChangedAsync(p, ct),
        OverlayMessageEventArgs m => HandleMessageAsync(m.From, m.Message, ct),
        LinkStatusChangedEventArgs l => HandleLinkStatusAsync(l, ct),
        SignalingConnectionEventArgs c => HandleConnectionAsync(c, ct),
        Func<CancellationToken, Task> work => work(ct),
        RecheckEvent => HandleRecheckAsync(ct),
        TickEvent => HandleTickAsync(ct),
        CandidatesChangedEvent => HandleCandidatesChangedAsync(ct),
        _ => Task.CompletedTask,
    };

    private bool IsInitiator(PeerId peer) => string.CompareOrdinal(_signaling.LocalId.Value, peer.Value) < 0;

    private async Task HandlePeerAsync(OverlayPeer peer, CancellationToken ct)
    {
        if (peer.Id == _signaling.LocalId)
        {
            return;
        }

        if (!_signaling.IsConnected)
        {
            // What signaling says while it is down is not a positive signal: the reconnect re-checks everyone.
            return;
        }

        if (!_policy.IsTrusted(peer))
        {
            if (peer.Presence != PeerPresence.Online && _graceUntil is { } until && _time.GetUtcNow() < until
                && _peers.TryGetValue(peer.Id, out Peer? known) && known.Link is { Status.State: LinkState.Connected })
            {
                // Just after an outage an absent peer may simply not be back on the server yet: its working link
                // stays until the grace ends. A peer that is online but no longer a member loses it at once.
                if (!known.Unverified)
                {
                    known.Unverified = true;
                    LogDeferred(_logger, peer.Id.Value, (until - _time.GetUtcNow()).TotalSeconds);
                }

                return;
            }

            Forget(peer.Id, peer.Presence.ToString(), peer.Relationship.ToString());
            return;
        }

        if (_peers.TryGetValue(peer.Id, out Peer? back))
        {
            back.Seen = peer;
            back.Unverified = false;
            await ReturnedFromAbsenceAsync(back, ct);
            await RefreshWantAsync(back, peer, ct);
            return;
        }

        EndAwaySessionsReplacedBy(peer.Id);
        DateTimeOffset now = _time.GetUtcNow();
        bool initiator = IsInitiator(peer.Id);

        // The answering side gives the initiator one answer timeout to offer before it asks for an offer.
        var p = new Peer(peer.Id, initiator) { NextAttemptAt = initiator ? now : now + _settings.AnswerTimeout, Wanted = _policy.WantsLink(peer), Seen = peer };
        _peers[peer.Id] = p;
        LogPeerTrusted(_logger, peer.Id.Value);
        if (!p.Wanted)
        {
            LogNotWanted(_logger, peer.Id.Value);
        }

        await EvaluateAsync(p, ct);
    }

    private void Forget(PeerId id, string presence, string relationship)
    {
        if (_peers.Remove(id, out Peer? gone))
        {
            if (gone.AwayUntil is not null)
            {
                _awayCount--;
            }

            _tincan.RemoveLink(id);
            _policy.OnForgotten(id, gone.Link);
            LogPeerGone(_logger, id.Value, presence, relationship);
        }
    }

    private async Task HandleRecheckAsync(CancellationToken ct)
    {
        var current = _signaling.Peers.ToDictionary(x => x.Id);
        foreach (PeerId id in _peers.Keys.Where(id => !current.ContainsKey(id)).ToList())
        {
            await HandlePeerAsync(new OverlayPeer(id, string.Empty, PeerPresence.Offline, PeerRelationship.None, []), ct);
        }

        foreach (OverlayPeer peer in current.Values)
        {
            await HandlePeerAsync(peer, ct);
        }
    }

    private void StopQuietly(PeerId peer, ITincanLink link)
    {
        try
        {
            _policy.OnStopped(peer, link);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Stopping goes on for every other link.
            LogEventFailed(_logger, "stop", ex);
        }
    }

    private sealed class RecheckEvent
    {
        public static RecheckEvent Instance { get; } = new();
    }

    private sealed class TickEvent
    {
        public static TickEvent Instance { get; } = new();
    }
}
