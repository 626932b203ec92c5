using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers.Negotiation;

/// <summary>
/// The mechanism both controllers share: one loop fed by a channel (signaling events, link events, a
/// 1 s tick) keeps a link to every trusted online peer. Of two peers, the one whose node id sorts lower
/// sends the offer and the other answers, so there is never glare; failed links are offered again with
/// exponential backoff and jitter; a peer that stops being trusted loses its link (and key) at once.
/// </summary>
internal sealed partial class LinkNegotiator
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private readonly IOverlaySignaling _signaling;
    private readonly ITincan _tincan;
    private readonly ILinkPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryMin;
    private readonly TimeSpan _retryMax;
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<PeerId, Peer> _peers = [];

    public LinkNegotiator(IOverlaySignaling signaling, ITincan tincan, ILinkPolicy policy, TimeProvider time, ILogger logger, TimeSpan retryMin, TimeSpan retryMax)
    {
        _signaling = signaling;
        _tincan = tincan;
        _policy = policy;
        _time = time;
        _logger = logger;
        _retryMin = retryMin;
        _retryMax = retryMax;
    }

    /// <summary>Peers that currently have (or are getting) a link.</summary>
    public IEnumerable<PeerId> Peers => _peers.Keys;

    /// <summary>Runs the loop until cancelled; removes every link it made on the way out.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> afterConnect, CancellationToken cancellationToken)
    {
        _signaling.PeerChanged += OnEvent;
        _signaling.MessageReceived += OnEvent;
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

            await foreach (object e in _events.Reader.ReadAllAsync(cancellationToken))
            {
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
            _tincan.LinkStatusChanged -= OnEvent;
            foreach (PeerId peer in _peers.Keys.ToList())
            {
                _tincan.RemoveLink(peer);
            }
        }
    }

    /// <summary>Queues work onto the controller loop (from any thread).</summary>
    public void Post(Func<CancellationToken, Task> work) => _events.Writer.TryWrite(work);

    /// <summary>Sends our current addresses to every linked peer (after they changed).</summary>
    public async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        foreach (Peer p in _peers.Values)
        {
            await SendAsync(p, LinkNegotiationMessage.AddressKind, cancellationToken);
        }
    }

    private void OnEvent(object? sender, EventArgs e) => _events.Writer.TryWrite(e);

    private Task HandleAsync(object e, CancellationToken ct) => e switch
    {
        OverlayPeerEventArgs p => HandlePeerAsync(p.Current, ct),
        OverlayMessageEventArgs m => HandleMessageAsync(m.From, m.Message, ct),
        LinkStatusChangedEventArgs l => HandleLinkStatus(l),
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

        if (!_policy.IsTrusted(peer))
        {
            if (_peers.Remove(peer.Id, out Peer? gone))
            {
                _tincan.RemoveLink(peer.Id);
                _policy.OnForgotten(peer.Id, gone.Link);
                LogPeerGone(_logger, peer.Id.Value, peer.Presence.ToString(), peer.Relationship.ToString());
            }

            return;
        }

        if (!_peers.ContainsKey(peer.Id))
        {
            var p = new Peer(peer.Id);
            _peers[peer.Id] = p;
            LogPeerTrusted(_logger, peer.Id.Value);
            if (IsInitiator(peer.Id))
            {
                await SendAsync(p, LinkNegotiationMessage.OfferKind, ct);
            }
        }
    }

    private async Task HandleMessageAsync(PeerId from, OverlayMessage message, CancellationToken ct)
    {
        OverlayPeer? peer = _signaling.Peers.FirstOrDefault(p => p.Id == from);
        if (peer is null || !_policy.IsTrusted(peer))
        {
            LogUntrusted(_logger, from.Value, message.Kind);
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
            LogRejected(_logger, from.Value, message.Kind, e.Message);
            return;
        }

        switch (message.Kind)
        {
            case LinkNegotiationMessage.OfferKind when parsed.Descriptor is not null:
                p.Link = _tincan.CreateLink(from, parsed.Descriptor);
                await _policy.OnClaimsAsync(from, parsed, p.Link, ct);
                await SendAsync(p, LinkNegotiationMessage.AnswerKind, ct);
                break;
            case LinkNegotiationMessage.AnswerKind when parsed.Descriptor is not null:
                p.Link = _tincan.CreateLink(from, parsed.Descriptor);
                await _policy.OnClaimsAsync(from, parsed, p.Link, ct);
                break;
            case LinkNegotiationMessage.RequestKind when IsInitiator(from):
                await SendAsync(p, LinkNegotiationMessage.OfferKind, ct);
                break;
            case LinkNegotiationMessage.AddressKind:
                await _policy.OnClaimsAsync(from, parsed, p.Link, ct);
                break;
            default:
                LogRejected(_logger, from.Value, message.Kind, "unexpected kind, or an offer/answer without a descriptor");
                break;
        }
    }

    private Task HandleLinkStatus(LinkStatusChangedEventArgs e)
    {
        if (!_peers.TryGetValue(e.Link.Peer, out Peer? p))
        {
            return Task.CompletedTask;
        }

        LinkStatus s = e.Current;
        if (s.State == LinkState.Connected)
        {
            p.Failures = 0;
            p.RetryAt = null;
            LogLinkUp(_logger, p.Id.Value, s.Path.ToString());
        }
        else if (s.State == LinkState.Failed)
        {
            p.Failures++;
            double seconds = Math.Min(_retryMin.TotalSeconds * Math.Pow(2, p.Failures - 1), _retryMax.TotalSeconds);
            p.RetryAt = _time.GetUtcNow() + TimeSpan.FromSeconds(seconds * (0.8 + (0.4 * Random.Shared.NextDouble())));
            LogLinkFailed(_logger, p.Id.Value, s.ToString(), seconds);
        }

        return Task.CompletedTask;
    }

    private async Task HandleTickAsync(CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        foreach (Peer p in _peers.Values)
        {
            if (p.RetryAt is { } at && at <= now)
            {
                p.RetryAt = null;
                await SendAsync(p, IsInitiator(p.Id) ? LinkNegotiationMessage.OfferKind : LinkNegotiationMessage.RequestKind, ct);
            }
        }

        _policy.OnTick();
    }

    private async Task SendAsync(Peer p, string kind, CancellationToken ct)
    {
        try
        {
            LinkDescriptor? descriptor = kind is LinkNegotiationMessage.OfferKind or LinkNegotiationMessage.AnswerKind
                ? await _tincan.GetLocalDescriptorAsync(ct)
                : null;
            await _signaling.SendAsync(p.Id, new OverlayMessage(kind, _policy.Describe(p.Id, descriptor).ToJson()), ct);
            LogSent(_logger, kind, p.Id.Value);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            // Signaling is down or the peer left; the retry tick or the peer's next presence tries again.
            p.RetryAt ??= _time.GetUtcNow() + _retryMin;
            LogSendFailed(_logger, kind, p.Id.Value, e.Message);
        }
    }

    private sealed class Peer(PeerId id)
    {
        public PeerId Id { get; } = id;

        public ITincanLink? Link { get; set; }

        public int Failures { get; set; }

        public DateTimeOffset? RetryAt { get; set; }
    }

    private sealed class TickEvent
    {
        public static TickEvent Instance { get; } = new();
    }

    [LoggerMessage(101, LogLevel.Information, "peer {Peer} is trusted and online")]
    private static partial void LogPeerTrusted(ILogger logger, string peer);

    [LoggerMessage(102, LogLevel.Information, "peer {Peer} gone ({Presence}, {Relationship}): link removed, key revoked")]
    private static partial void LogPeerGone(ILogger logger, string peer, string presence, string relationship);

    [LoggerMessage(103, LogLevel.Warning, "ignored {Kind} from {Peer}: not a trusted online peer")]
    private static partial void LogUntrusted(ILogger logger, string peer, string kind);

    [LoggerMessage(104, LogLevel.Warning, "rejected {Kind} from {Peer}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string peer, string kind, string reason);

    [LoggerMessage(105, LogLevel.Information, "link {Peer} up ({Path})")]
    private static partial void LogLinkUp(ILogger logger, string peer, string path);

    [LoggerMessage(106, LogLevel.Warning, "link {Peer}: {Status}; retrying in about {DelaySeconds} s")]
    private static partial void LogLinkFailed(ILogger logger, string peer, string status, double delaySeconds);

    [LoggerMessage(107, LogLevel.Debug, "sent {Kind} to {Peer}")]
    private static partial void LogSent(ILogger logger, string kind, string peer);

    [LoggerMessage(108, LogLevel.Warning, "could not send {Kind} to {Peer}: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string kind, string peer, string reason);

    [LoggerMessage(109, LogLevel.Error, "controller event {Event} failed")]
    private static partial void LogEventFailed(ILogger logger, string @event, Exception exception);
}
