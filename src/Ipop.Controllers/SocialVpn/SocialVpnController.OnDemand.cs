using Ipop.Controllers.Negotiation;
using Ipop.Controllers.SocialVpn;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// On-demand friend links (issue 16, <c>SocialVpn:Links</c> = <c>on-demand</c>): a friend that is online but silent has
/// no link. The first packet for its address is held and makes this side want the link
/// (<see cref="INegotiationPolicy.WantsLink"/>); the held packets go out when it connects; a link without traffic for
/// <see cref="SocialVpnOptions.LinkIdleSeconds"/> is no longer wanted, and the negotiator releases it unless the friend
/// wants it too. The friend answers our offer without wanting the link itself: a link lives while one side wants it.
/// </summary>
/// <remarks>
/// Idleness is read from the link's counters (data packets either way) at a few checks per idle time, armed through
/// <see cref="INegotiationPolicy.OnTick"/> only while some link is wanted or some packet held: a node with no wanted
/// link never wakes up. The packet path itself counts nothing.
/// </remarks>
public sealed partial class SocialVpnController
{
    // Loop only: the friends this side wants a link to, with what the last check saw.
    private readonly Dictionary<PeerId, Demand> _demand = [];
    private readonly List<(PeerId Friend, int Dropped)> _expiredScratch = [];
    private LogBudget? _expiredLog;
    private long _reaped;

    private bool OnDemand => _options.Links == SocialVpnOptions.OnDemandLinks;

    private TimeSpan IdleAfter => TimeSpan.FromSeconds(_options.LinkIdleSeconds);

    // A few checks per idle time: a link is released between IdleAfter and 1.25 IdleAfter after its last packet.
    private TimeSpan IdleCheckEvery => IdleAfter / 4;

    /// <summary>Links this side wanted and released for idleness.</summary>
    internal long Reaped => Interlocked.Read(ref _reaped);

    /// <summary>Packets held for friends without a working link (on demand), or <c>null</c>.</summary>
    internal HeldPackets? Held => _router?.Held;

    /// <summary>The friends this side wants a link to now (read on the loop, or when it is idle).</summary>
    internal IReadOnlyCollection<PeerId> Wanted => _demand.Keys;

    private SocialVpnRouter CreateRouter(System.Net.IPNetwork pool)
    {
        if (!OnDemand)
        {
            return new SocialVpnRouter(pool);
        }

        _expiredLog = new LogBudget(_time, TimeSpan.FromSeconds(30));
        var held = new HeldPackets(_options.HoldPacketsPerFriend, _options.HoldPacketsTotal, TimeSpan.FromSeconds(_options.HoldSeconds), _time);
        _tincan.LinkStatusChanged += OnLinkStatusChanged;
        return new SocialVpnRouter(pool, held, friend => _negotiator.Post(_ => WantAsync(friend)));
    }

    private void StopOnDemand()
    {
        if (OnDemand)
        {
            _tincan.LinkStatusChanged -= OnLinkStatusChanged;
        }
    }

    // Tincan's thread: the held packets go out at once, ahead of (most of) what the NIC reads next.
    private void OnLinkStatusChanged(object? sender, LinkStatusChangedEventArgs e)
    {
        if (e.Current.State == LinkState.Connected && _router is { } router)
        {
            int sent = router.ReleaseHeld(e.Link);
            if (sent > 0)
            {
                LogReleasedHeld(_logger, e.Link.Peer.Value, sent);
            }
        }
    }

    // The loop: the NIC thread held the first packet for this friend.
    private Task WantAsync(PeerId friend)
    {
        if (!_friends.ContainsKey(friend))
        {
            return Task.CompletedTask; // gone meanwhile: its packets expire
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (_demand.TryGetValue(friend, out Demand? known))
        {
            known.LastActiveAt = now;
        }
        else
        {
            _demand[friend] = new Demand { LastActiveAt = now };
            LogWantedByTraffic(_logger, friend.Value);
            _negotiator.RecheckTrust(); // asks WantsLink again: the link starts now
        }

        _negotiator.CallPolicyBy(now + TimeSpan.FromSeconds(Math.Min(_options.HoldSeconds, IdleCheckEvery.TotalSeconds)));
        return Task.CompletedTask;
    }

    private bool WantsLinkOnDemand(OverlayPeer peer) => !OnDemand || _demand.ContainsKey(peer.Id);

    private void ForgetDemand(PeerId peer)
    {
        _demand.Remove(peer);
        _router?.Held?.Forget(peer);
    }

    // The loop, when OnTick is due: held packets that waited too long, and wanted links that went idle.
    private TimeSpan? TickOnDemand()
    {
        if (!OnDemand || _router?.Held is not { } held)
        {
            return null; // nothing here expires: no wakeups
        }

        DateTimeOffset now = _time.GetUtcNow();
        _expiredScratch.Clear();
        DateTimeOffset? next = held.Expire(_expiredScratch);
        foreach ((PeerId friend, int dropped) in _expiredScratch)
        {
            if (_expiredLog!.TryTake(friend.Value, out long suppressed))
            {
                LogHeldExpired(_logger, dropped, friend.Value, _options.HoldSeconds, suppressed);
            }
        }

        List<PeerId>? idle = null;
        foreach ((PeerId friend, Demand d) in _demand)
        {
            long activity = d.LastActivity;
            if (_tincan.TryGetLink(friend, out ITincanLink? link))
            {
                LinkStats stats = link.GetStats();
                activity = stats.PacketsSent + stats.PacketsReceived;
            }

            if (activity != d.LastActivity || held.IsHolding(friend))
            {
                d.LastActivity = activity;
                d.LastActiveAt = now;
            }
            else if (now - d.LastActiveAt >= IdleAfter)
            {
                (idle ??= []).Add(friend);
                continue;
            }

            DateTimeOffset check = Min(d.LastActiveAt + IdleAfter, now + IdleCheckEvery);
            next = next is { } n && n <= check ? n : check;
        }

        if (idle is not null)
        {
            foreach (PeerId friend in idle)
            {
                _demand.Remove(friend);
                Interlocked.Increment(ref _reaped);
                LogIdle(_logger, friend.Value, _options.LinkIdleSeconds);
            }

            _negotiator.RecheckTrust(); // WantsLink turns false: the negotiator releases these links
        }

        return next is { } at ? Max(at - now, TimeSpan.FromMilliseconds(1)) : null;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a >= b ? a : b;

    private sealed class Demand
    {
        public DateTimeOffset LastActiveAt { get; set; }

        // Data packets either way as of the last check; -1 before the first.
        public long LastActivity { get; set; } = -1;
    }

    [LoggerMessage(10, LogLevel.Information, "friend {Peer}: traffic for it, starting its on-demand link")]
    private static partial void LogWantedByTraffic(ILogger logger, string peer);

    [LoggerMessage(11, LogLevel.Information, "friend {Peer}: no traffic for {IdleSeconds} s, releasing its on-demand link")]
    private static partial void LogIdle(ILogger logger, string peer, double idleSeconds);

    [LoggerMessage(12, LogLevel.Debug, "friend {Peer}: link up, sent the {Count} packets held for it")]
    private static partial void LogReleasedHeld(ILogger logger, string peer, int count);

    [LoggerMessage(13, LogLevel.Warning, "dropped {Count} packets held for friend {Peer}: its link was not up within {HoldSeconds} s ({Suppressed} more such lines suppressed)")]
    private static partial void LogHeldExpired(ILogger logger, int count, string peer, double holdSeconds, long suppressed);
}
