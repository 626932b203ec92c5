using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers.Negotiation;

/// <summary>
/// The mechanism both controllers share: one loop fed by a channel (signaling events, link events, a
/// 1 s tick) keeps a link to every trusted online peer. Of two peers, the one whose node id sorts lower
/// sends the offer and the other answers, so there is never glare.
/// </summary>
/// <remarks>
/// <para>
/// Liveness does not hang on events: every tick looks at each wanted peer and, whatever state its link is
/// in (no link, failed, connecting for too long, removed underneath, offer unanswered, send failed), starts
/// a new attempt once its backoff (capped, with jitter) has passed. The initiator's attempt is an offer;
/// the other side's is a request for one.
/// </para>
/// <para>
/// Each offer carries a fresh nonce that its answer echoes. An answer is accepted only for the offer we are
/// waiting on, so a key is bound only through an exchange this node started or accepted, and duplicated,
/// late or crossing messages never create a link twice; an offer whose descriptor matches a healthy link
/// keeps that link.
/// </para>
/// <para>
/// Losing signaling never removes a link. While it is down nothing is sent and the backoff waits; on its
/// return every peer is re-checked against signaling's current view and retried at once. Links outlive an
/// outage for <see cref="NegotiationSettings.OutageLinkLifetime"/> at most, since membership cannot be re-checked meanwhile.
/// </para>
/// </remarks>
internal sealed partial class LinkNegotiator
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private const int MaxRememberedOffers = 4096;
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly ILinkPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NegotiationSettings _settings;
    private readonly LogBudget _refusals;
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>() /* multi-reader kind: it can count, which WhenIdleAsync needs */;
    private readonly Dictionary<PeerId, Peer> _peers = [];

    // Our recent offers (also to peers forgotten since), so that a late answer is told from an unsolicited one.
    private readonly HashSet<(PeerId Peer, string Nonce)> _offered = [];
    private readonly Queue<(PeerId Peer, string Nonce)> _offeredOrder = new();
    private readonly Lock _idleGate = new();
    private TaskCompletionSource? _idle;
    private bool _parked;
    private DateTimeOffset? _outageSince;
    private bool _outageEnded;
    private DateTimeOffset? _graceUntil;

    public LinkNegotiator(IOverlaySignaling signaling, ITincan tincan, ILinkPolicy policy, TimeProvider time, ILogger logger, NegotiationSettings settings)
    {
        _signaling = signaling;
        _tincan = tincan;
        _policy = policy;
        _time = time;
        _logger = logger;
        _settings = settings;
        _refusals = new LogBudget(time, TimeSpan.FromSeconds(10));
        Jitter = settings.Random;
    }

    /// <summary>Peers that currently have (or are getting) a link.</summary>
    public IEnumerable<PeerId> Peers => _peers.Keys;

    /// <summary>Messages refused because no exchange of ours matched them (unsolicited or stale answers, offers from the wrong role, key conflicts).</summary>
    public long Refused { get; private set; }

    /// <summary>
    /// Completes when the loop has handled every queued event and waits for more (tests use it to settle on a
    /// fake clock instead of sleeping).
    /// </summary>
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

    /// <summary>Runs the loop until cancelled; removes every link it made on the way out.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> afterConnect, CancellationToken cancellationToken)
    {
        _signaling.PeerChanged += OnEvent;
        _signaling.MessageReceived += OnEvent;
        _signaling.ConnectionChanged += OnEvent;
        _tincan.LinkStatusChanged += OnEvent;
        _tincan.LocalCandidatesChanged += OnLocalCandidatesChanged;
        using ITimer ticker = _time.CreateTimer(_ => _events.Writer.TryWrite(TickEvent.Instance), null, Tick, Tick);
        try
        {
            await _signaling.ConnectAsync(cancellationToken);
            await afterConnect(cancellationToken);
            foreach (OverlayPeer peer in _signaling.Peers)
            {
                await HandlePeerAsync(peer, cancellationToken);
            }

            if (ManualPump)
            {
                // The test drains the queue itself (DrainAsync), so it decides the order across nodes.
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            while (true)
            {
                object? e;
                lock (_idleGate)
                {
                    _parked = !_events.Reader.TryRead(out e);
                    if (_parked)
                    {
                        _idle?.TrySetResult();
                        _idle = null;
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
        finally
        {
            _signaling.PeerChanged -= OnEvent;
            _signaling.MessageReceived -= OnEvent;
            _signaling.ConnectionChanged -= OnEvent;
            _tincan.LinkStatusChanged -= OnEvent;
            _tincan.LocalCandidatesChanged -= OnLocalCandidatesChanged;
            foreach (PeerId peer in _peers.Keys.ToList())
            {
                _tincan.RemoveLink(peer);
            }
        }
    }

    /// <summary>
    /// Tests only, set before <see cref="RunAsync"/>: after starting, the loop handles nothing by itself and the
    /// test calls <see cref="DrainAsync"/>, so a run with seeded faults on a fake clock is repeatable.
    /// </summary>
    internal bool ManualPump { get; set; }

    /// <summary>Source of backoff jitter (tests seed it).</summary>
    internal Random Jitter { get; set; } = Random.Shared;

    /// <summary>With <see cref="ManualPump"/>: handles every queued event (and those they queue) on the caller's flow.</summary>
    /// <returns>How many events were handled.</returns>
    internal async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        int handled = 0;
        while (handled < 100_000 && _events.Reader.TryRead(out object? e))
        {
            handled++;
            await HandleGuardedAsync(e, cancellationToken);
        }

        return handled;
    }

    /// <summary>Queues work onto the controller loop (from any thread).</summary>
    public void Post(Func<CancellationToken, Task> work) => _events.Writer.TryWrite(work);

    /// <summary>Sends our current addresses to every linked peer (after they changed).</summary>
    public async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        foreach (Peer p in _peers.Values)
        {
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
            back.Unverified = false;
            await ReturnedFromAbsenceAsync(back, ct);
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        bool initiator = IsInitiator(peer.Id);

        // The answering side gives the initiator one answer timeout to offer before it asks for an offer.
        var p = new Peer(peer.Id, initiator) { NextAttemptAt = initiator ? now : now + _settings.AnswerTimeout };
        _peers[peer.Id] = p;
        LogPeerTrusted(_logger, peer.Id.Value);
        await EvaluateAsync(p, ct);
    }

    private void Forget(PeerId id, string presence, string relationship)
    {
        if (_peers.Remove(id, out Peer? gone))
        {
            _tincan.RemoveLink(id);
            _policy.OnForgotten(id, gone.Link);
            LogPeerGone(_logger, id.Value, presence, relationship);
        }
    }

    private sealed class TickEvent
    {
        public static TickEvent Instance { get; } = new();
    }
}
