using System.Security.Cryptography;
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

                try
                {
                    await HandleAsync(e, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // One bad event must never stop the controller serving everyone else.
                    LogEventFailed(_logger, e.GetType().Name, ex);
                }
            }
        }
        finally
        {
            _signaling.PeerChanged -= OnEvent;
            _signaling.MessageReceived -= OnEvent;
            _signaling.ConnectionChanged -= OnEvent;
            _tincan.LinkStatusChanged -= OnEvent;
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
            try
            {
                await HandleAsync(e, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogEventFailed(_logger, e.GetType().Name, ex);
            }
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

    private Task HandleAsync(object e, CancellationToken ct) => e switch
    {
        OverlayPeerEventArgs p => HandlePeerAsync(p.Current, ct),
        OverlayMessageEventArgs m => HandleMessageAsync(m.From, m.Message, ct),
        LinkStatusChangedEventArgs l => HandleLinkStatusAsync(l, ct),
        SignalingConnectionEventArgs c => HandleConnectionAsync(c, ct),
        Func<CancellationToken, Task> work => work(ct),
        TickEvent => HandleTickAsync(ct),
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
        }

        if (!_peers.ContainsKey(peer.Id))
        {
            DateTimeOffset now = _time.GetUtcNow();
            bool initiator = IsInitiator(peer.Id);

            // The answering side gives the initiator one answer timeout to offer before it asks for an offer.
            var p = new Peer(peer.Id, initiator) { NextAttemptAt = initiator ? now : now + _settings.AnswerTimeout };
            _peers[peer.Id] = p;
            LogPeerTrusted(_logger, peer.Id.Value);
            await EvaluateAsync(p, ct);
        }
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

    private async Task HandleMessageAsync(PeerId from, OverlayMessage message, CancellationToken ct)
    {
        OverlayPeer? peer = _signaling.Peers.FirstOrDefault(p => p.Id == from);
        if (peer is null || !_policy.IsTrusted(peer))
        {
            Refuse(from, message.Kind, "not a trusted online peer");
            return;
        }

        if (!_peers.TryGetValue(from, out Peer? p))
        {
            await HandlePeerAsync(peer, ct);
            if (!_peers.TryGetValue(from, out p))
            {
                return; // trust changed while we looked: nothing to negotiate
            }
        }

        LinkNegotiationMessage parsed;
        try
        {
            parsed = LinkNegotiationMessage.Parse(message.Body);
        }
        catch (FormatException e)
        {
            Refuse(from, message.Kind, e.Message);
            return;
        }

        switch (message.Kind)
        {
            case LinkNegotiationMessage.OfferKind:
                await HandleOfferAsync(p, parsed, ct);
                break;
            case LinkNegotiationMessage.AnswerKind:
                await HandleAnswerAsync(p, parsed, ct);
                break;
            case LinkNegotiationMessage.RequestKind:
                await HandleRequestAsync(p, ct);
                break;
            case LinkNegotiationMessage.AddressKind:
                await _policy.OnClaimsAsync(from, parsed, p.Link, ct);
                break;
            default:
                Refuse(from, message.Kind, "unknown kind");
                break;
        }
    }

    private async Task HandleOfferAsync(Peer p, LinkNegotiationMessage offer, CancellationToken ct)
    {
        if (p.IsInitiator)
        {
            Refuse(p.Id, LinkNegotiationMessage.OfferKind, "this node offers to that peer (its id sorts lower), it only answers");
            return;
        }

        if (offer.Descriptor is null || offer.Nonce is null)
        {
            Refuse(p.Id, LinkNegotiationMessage.OfferKind, "an offer needs a descriptor and a nonce");
            return;
        }

        if (offer.Nonce == p.AnsweredNonce)
        {
            LogDuplicate(_logger, LinkNegotiationMessage.OfferKind, p.Id.Value);
            return;
        }

        if (!Bind(p, offer.Descriptor, LinkNegotiationMessage.OfferKind))
        {
            return;
        }

        p.AnsweredNonce = offer.Nonce;
        await _policy.OnClaimsAsync(p.Id, offer, p.Link, ct);
        await SendAsync(p, LinkNegotiationMessage.AnswerKind, offer.Nonce, ct);
    }

    private async Task HandleAnswerAsync(Peer p, LinkNegotiationMessage answer, CancellationToken ct)
    {
        if (answer.Nonce is not null && answer.Nonce != p.PendingNonce && (answer.Nonce == p.AnsweredNonce || _offered.Contains((p.Id, answer.Nonce))))
        {
            // A copy, or the late answer to an offer we gave up on: the exchange it belonged to is over.
            LogDuplicate(_logger, LinkNegotiationMessage.AnswerKind, p.Id.Value);
            return;
        }

        if (!p.IsInitiator || p.PendingNonce is null || answer.Nonce != p.PendingNonce)
        {
            // Only the answer to the offer we are waiting on may bind a key: otherwise any member could bind
            // someone else's key to itself and make the owner's own offer fail.
            Refuse(p.Id, LinkNegotiationMessage.AnswerKind, "unsolicited: no offer of ours is waiting for this answer");
            return;
        }

        if (answer.Descriptor is null)
        {
            Refuse(p.Id, LinkNegotiationMessage.AnswerKind, "an answer needs a descriptor");
            return;
        }

        p.PendingNonce = null;
        p.AnsweredNonce = answer.Nonce;
        if (Bind(p, answer.Descriptor, LinkNegotiationMessage.AnswerKind))
        {
            await _policy.OnClaimsAsync(p.Id, answer, p.Link, ct);
        }
    }

    private async Task HandleRequestAsync(Peer p, CancellationToken ct)
    {
        if (!p.IsInitiator)
        {
            Refuse(p.Id, LinkNegotiationMessage.RequestKind, "that peer offers to this node (its id sorts lower)");
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (p.PendingNonce is not null && now - p.PendingSince < _settings.AnswerTimeout)
        {
            // An offer is already on its way: crossing or duplicated requests must not start a second exchange.
            LogDuplicate(_logger, LinkNegotiationMessage.RequestKind, p.Id.Value);
            return;
        }

        // The peer has no usable link (it restarted, or its side failed): offer at once, without counting a failure.
        await OfferAsync(p, ct);
    }

    /// <summary>
    /// Binds the peer's key and candidates to its link: keeps a healthy link whose descriptor is the same, and
    /// creates a fresh link object when the current one failed, is stuck or was removed underneath.
    /// </summary>
    private bool Bind(Peer p, LinkDescriptor descriptor, string kind)
    {
        ITincanLink? holder = _tincan.Links.FirstOrDefault(l => l.PeerKey == descriptor.Key && l.Peer != p.Id);
        if (holder is not null)
        {
            Peer? other = _peers.GetValueOrDefault(holder.Peer);
            bool proven = other?.EverConnected ?? holder.Status.State == LinkState.Connected;
            if (proven || (other is not null && _time.GetUtcNow() - other.LinkSince < _settings.ConnectTimeout))
            {
                // A public key is no secret: whoever sent it first may not hold its private key. The holder keeps it
                // if it proved it in a handshake, or while its own attempt is young; a binding that never proved
                // itself within the connect timeout yields. So an impostor delays the owner once, by that long at
                // most, and a proven owner cannot be displaced at all.
                Refuse(p.Id, kind, $"its key is bound to {holder.Peer.Value}, which {(proven ? "proved it in a handshake" : "is still connecting with it")}");
                return false;
            }

            LogKeyRebound(_logger, descriptor.Key.ToString(), holder.Peer.Value, p.Id.Value);
            _tincan.RemoveLink(holder.Peer);
            if (other is not null)
            {
                _policy.OnLinkReplaced(other.Id, holder);
                other.Link = null;
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        bool present = p.Link is not null && _tincan.TryGetLink(p.Id, out ITincanLink? current) && ReferenceEquals(current, p.Link);
        if (present && p.Link!.PeerKey == descriptor.Key && StuckReason(p, now) is null)
        {
            if (!SameDescriptor(p.Remote, descriptor))
            {
                // Same key, new candidates (a new TURN allocation, a NAT that moved): Tincan updates a healthy link
                // in place, so its session and traffic carry on.
                ITincanLink old = p.Link;
                if (!TryCreate(p, descriptor, kind))
                {
                    return false;
                }

                if (!ReferenceEquals(old, p.Link))
                {
                    _policy.OnLinkReplaced(p.Id, old);
                    p.LinkSince = now;
                    p.EverConnected = false;
                }

                return true;
            }

            LogKept(_logger, p.Id.Value, p.Link.Status.State.ToString());
            return true;
        }

        if (p.Link is not null)
        {
            // A failed or stuck link keeps its state when created again with the same key: start from a clean one.
            if (present)
            {
                _tincan.RemoveLink(p.Id);
            }

            _policy.OnLinkReplaced(p.Id, p.Link);
        }

        if (!TryCreate(p, descriptor, kind))
        {
            return false;
        }

        p.LinkSince = now;
        p.EverConnected = false;
        return true;
    }

    private bool TryCreate(Peer p, LinkDescriptor descriptor, string kind)
    {
        try
        {
            p.Link = _tincan.CreateLink(p.Id, descriptor);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            p.Link = null;
            Refuse(p.Id, kind, e.Message);
            return false;
        }

        p.Remote = descriptor;
        LogLinkCreated(_logger, p.Id.Value, kind);
        return true;
    }

    private static bool SameDescriptor(LinkDescriptor? a, LinkDescriptor b) =>
        a is not null && a.Key == b.Key && a.CheckUsername == b.CheckUsername && a.CheckPassword == b.CheckPassword
        && a.Candidates.AsSpan().SequenceEqual(b.Candidates.AsSpan());

    private async Task HandleLinkStatusAsync(LinkStatusChangedEventArgs e, CancellationToken ct)
    {
        if (!_peers.TryGetValue(e.Link.Peer, out Peer? p) || !ReferenceEquals(p.Link, e.Link))
        {
            return; // a link object we already replaced
        }

        LinkStatus s = e.Current;
        if (s.State == LinkState.Connected)
        {
            p.Failures = 0;
            p.EverConnected = true;
            LogLinkUp(_logger, p.Id.Value, s.Path.ToString());
        }
        else if (s.State is LinkState.Failed or LinkState.Closed)
        {
            LogLinkFailed(_logger, p.Id.Value, s.ToString());
            await EvaluateAsync(p, ct);
        }
    }

    private async Task HandleConnectionAsync(SignalingConnectionEventArgs e, CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (!e.IsConnected)
        {
            _outageSince ??= now;
            LogSignalingLost(_logger, e.Reason ?? "unknown", _peers.Count, _settings.OutageLinkLifetime.TotalSeconds);
            return;
        }

        if (_outageSince is not { } since)
        {
            return; // the first connect (RunAsync handles the peers then), or a repeated report
        }

        LogSignalingBack(_logger, (now - since).TotalSeconds, _outageEnded);
        _outageSince = null;
        _outageEnded = false;

        // Reconcile: what changed while we were away is decided now, against signaling's current view; peers not
        // (yet) back get a grace period.
        _graceUntil = now + (_settings.ReconnectGrace < _settings.OutageLinkLifetime ? _settings.ReconnectGrace : _settings.OutageLinkLifetime);
        var current = _signaling.Peers.ToDictionary(x => x.Id);
        foreach (Peer p in _peers.Values)
        {
            // Whatever backoff was running, try again now: the outage, not the peer, was the obstacle.
            p.NextAttemptAt = now;
            p.PendingNonce = null;
        }

        foreach (PeerId id in _peers.Keys.ToList())
        {
            await HandlePeerAsync(current.GetValueOrDefault(id) ?? new OverlayPeer(id, string.Empty, PeerPresence.Offline, PeerRelationship.None, []), ct);
        }

        foreach (OverlayPeer peer in current.Values)
        {
            await HandlePeerAsync(peer, ct);
        }

        foreach (Peer p in _peers.Values.ToList())
        {
            await EvaluateAsync(p, ct);
        }
    }

    private async Task HandleTickAsync(CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (_outageSince is { } since && !_outageEnded && now - since >= _settings.OutageLinkLifetime)
        {
            _outageEnded = true;
            LogOutageLinksEnded(_logger, _peers.Count, (now - since).TotalSeconds);
            foreach (PeerId id in _peers.Keys.ToList())
            {
                Forget(id, "unknown (signaling down)", "not re-checked");
            }
        }

        if (_graceUntil is { } until && now >= until)
        {
            _graceUntil = null;
            var current = _signaling.Peers.ToDictionary(x => x.Id);
            foreach (Peer p in _peers.Values.Where(p => p.Unverified).ToList())
            {
                OverlayPeer? peer = current.GetValueOrDefault(p.Id);
                if (peer is not null && _policy.IsTrusted(peer))
                {
                    p.Unverified = false;
                }
                else
                {
                    Forget(p.Id, peer?.Presence.ToString() ?? "absent", "not back after the outage");
                }
            }
        }

        foreach (Peer p in _peers.Values.ToList())
        {
            await EvaluateAsync(p, ct);
        }

        _policy.OnTick();
    }

    /// <summary>Starts a new attempt for <paramref name="p"/> if its link is not up or on its way up and its backoff has passed.</summary>
    private async Task EvaluateAsync(Peer p, CancellationToken ct)
    {
        if (!_signaling.IsConnected || p.Unverified || !_peers.ContainsKey(p.Id))
        {
            return; // nothing can be sent; the reconnect resumes at once
        }

        DateTimeOffset now = _time.GetUtcNow();
        string? why = StuckReason(p, now);
        if (why is null || now < p.NextAttemptAt)
        {
            return;
        }

        p.Failures++;
        double seconds = Math.Min(_settings.RetryMin.TotalSeconds * Math.Pow(2, Math.Min(p.Failures - 1, 30)), _settings.RetryMax.TotalSeconds);

        // Jitter spreads the retries of many peers that failed together (a restarted relay, a lost server).
        seconds = Math.Min(seconds * (0.75 + (0.5 * Jitter.NextDouble())), _settings.RetryMax.TotalSeconds);
        p.NextAttemptAt = now + TimeSpan.FromSeconds(seconds);
        if (p.Failures > 1 || p.Link is not null)
        {
            LogRetry(_logger, p.Id.Value, why, p.Failures, seconds);
        }

        if (p.IsInitiator)
        {
            await OfferAsync(p, ct);
        }
        else
        {
            await SendAsync(p, LinkNegotiationMessage.RequestKind, null, ct);
        }
    }

    /// <summary>Why the peer's link needs a new attempt, or <c>null</c> while it is up or on its way up.</summary>
    private string? StuckReason(Peer p, DateTimeOffset now)
    {
        if (p.PendingNonce is not null)
        {
            return now - p.PendingSince >= _settings.AnswerTimeout ? "no answer to our offer" : null;
        }

        if (p.Link is null)
        {
            return "no link yet";
        }

        if (!_tincan.TryGetLink(p.Id, out ITincanLink? current) || !ReferenceEquals(current, p.Link))
        {
            return "link removed underneath";
        }

        LinkStatus s = p.Link.Status;
        return s.State switch
        {
            LinkState.Connected => null,
            LinkState.Connecting when now - p.LinkSince < _settings.ConnectTimeout => null,
            LinkState.Connecting => $"still connecting after {(now - p.LinkSince).TotalSeconds:0} s",
            _ => s.ToString(),
        };
    }

    private async Task OfferAsync(Peer p, CancellationToken ct)
    {
        string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        p.PendingNonce = nonce;
        if (_offered.Add((p.Id, nonce)))
        {
            _offeredOrder.Enqueue((p.Id, nonce));
            if (_offeredOrder.Count > MaxRememberedOffers)
            {
                _offered.Remove(_offeredOrder.Dequeue());
            }
        }

        p.PendingSince = _time.GetUtcNow();
        if (!await SendAsync(p, LinkNegotiationMessage.OfferKind, nonce, ct))
        {
            p.PendingNonce = null; // nothing in flight: the next attempt (after the backoff or reconnect) offers again
        }
    }

    private async Task<bool> SendAsync(Peer p, string kind, string? nonce, CancellationToken ct)
    {
        try
        {
            LinkDescriptor? descriptor = kind is LinkNegotiationMessage.OfferKind or LinkNegotiationMessage.AnswerKind
                ? await _tincan.GetLocalDescriptorAsync(ct)
                : null;
            LinkNegotiationMessage body = _policy.Describe(p.Id, descriptor) with { Nonce = nonce };
            await _signaling.SendAsync(p.Id, new OverlayMessage(kind, body.ToJson()), ct);
            LogSent(_logger, kind, p.Id.Value);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            // Signaling is down or the peer left; the tick retries after the backoff, a reconnect at once.
            LogSendFailed(_logger, kind, p.Id.Value, e.Message);
            return false;
        }
    }

    private void Refuse(PeerId from, string kind, string reason)
    {
        Refused++;
        if (_refusals.TryTake(from.Value, out long suppressed))
        {
            LogRefused(_logger, kind, from.Value, reason, suppressed);
        }
    }

    private sealed class Peer(PeerId id, bool initiator)
    {
        public PeerId Id { get; } = id;

        public bool IsInitiator { get; } = initiator;

        public ITincanLink? Link { get; set; }

        /// <summary>The descriptor <see cref="Link"/> was created from.</summary>
        public LinkDescriptor? Remote { get; set; }

        public DateTimeOffset LinkSince { get; set; }

        /// <summary>The link reached Connected: the peer proved its key in a handshake.</summary>
        public bool EverConnected { get; set; }

        /// <summary>Initiator: the nonce of the offer waiting for its answer.</summary>
        public string? PendingNonce { get; set; }

        public DateTimeOffset PendingSince { get; set; }

        /// <summary>The nonce of the last exchange completed (answer taken or offer answered): its copies are duplicates.</summary>
        public string? AnsweredNonce { get; set; }

        public int Failures { get; set; }

        public DateTimeOffset NextAttemptAt { get; set; }

        /// <summary>Absent after an outage, link kept until the reconnect grace ends.</summary>
        public bool Unverified { get; set; }
    }

    private sealed class TickEvent
    {
        public static TickEvent Instance { get; } = new();
    }

    [LoggerMessage(101, LogLevel.Information, "peer {Peer} is trusted and online")]
    private static partial void LogPeerTrusted(ILogger logger, string peer);

    [LoggerMessage(102, LogLevel.Information, "peer {Peer} gone ({Presence}, {Relationship}): link removed, key revoked")]
    private static partial void LogPeerGone(ILogger logger, string peer, string presence, string relationship);

    [LoggerMessage(103, LogLevel.Information, "refused {Kind} from {Peer}: {Reason} ({Suppressed} more refusals from this peer not logged)")]
    private static partial void LogRefused(ILogger logger, string kind, string peer, string reason, long suppressed);

    [LoggerMessage(104, LogLevel.Debug, "ignored a copy of {Kind} from {Peer}: that exchange is done or under way")]
    private static partial void LogDuplicate(ILogger logger, string kind, string peer);

    [LoggerMessage(105, LogLevel.Information, "link {Peer} up ({Path})")]
    private static partial void LogLinkUp(ILogger logger, string peer, string path);

    [LoggerMessage(106, LogLevel.Warning, "link {Peer}: {Status}")]
    private static partial void LogLinkFailed(ILogger logger, string peer, string status);

    [LoggerMessage(107, LogLevel.Debug, "sent {Kind} to {Peer}")]
    private static partial void LogSent(ILogger logger, string kind, string peer);

    [LoggerMessage(108, LogLevel.Warning, "could not send {Kind} to {Peer}: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string kind, string peer, string reason);

    [LoggerMessage(109, LogLevel.Error, "controller event {Event} failed")]
    private static partial void LogEventFailed(ILogger logger, string @event, Exception exception);

    [LoggerMessage(110, LogLevel.Information, "link {Peer}: {Reason}; attempt {Attempt}, next one in about {DelaySeconds:0.0} s unless it comes up")]
    private static partial void LogRetry(ILogger logger, string peer, string reason, int attempt, double delaySeconds);

    [LoggerMessage(111, LogLevel.Debug, "link {Peer} kept ({State}): the message carried the descriptor it was made from")]
    private static partial void LogKept(ILogger logger, string peer, string state);

    [LoggerMessage(112, LogLevel.Debug, "link {Peer} created from its {Kind}")]
    private static partial void LogLinkCreated(ILogger logger, string peer, string kind);

    [LoggerMessage(113, LogLevel.Warning, "key {Key} was bound to {Holder} without a handshake proving it; it now goes to {Peer}")]
    private static partial void LogKeyRebound(ILogger logger, string key, string holder, string peer);

    [LoggerMessage(114, LogLevel.Warning, "signaling lost ({Reason}): keeping {Links} links for up to {LifetimeSeconds} s; no new links until it is back")]
    private static partial void LogSignalingLost(ILogger logger, string reason, int links, double lifetimeSeconds);

    [LoggerMessage(115, LogLevel.Information, "signaling back after {Seconds:0.0} s (links had ended: {Ended}); re-checking every peer and retrying now")]
    private static partial void LogSignalingBack(ILogger logger, double seconds, bool ended);

    [LoggerMessage(117, LogLevel.Information, "peer {Peer} is not back since signaling returned: its link stays for up to {GraceSeconds:0} s more while it reconnects")]
    private static partial void LogDeferred(ILogger logger, string peer, double graceSeconds);

    [LoggerMessage(116, LogLevel.Warning, "signaling down for {Seconds:0} s: ending {Links} links whose peers' membership could not be re-checked")]
    private static partial void LogOutageLinksEnded(ILogger logger, int links, double seconds);
}
