using System.Net;
using Microsoft.Extensions.Logging;

namespace Ipop.Controllers;

/// <summary>
/// On-demand links in a structured group: members that this node sends much traffic to through others get a direct
/// link, which is released once idle (the thresholds are <c>GroupVpn:OnDemand*</c>).
/// </summary>
public sealed partial class GroupVpnController
{
    private void ArmOnDemandCheck(TimeSpan due)
    {
        if (_options.OnDemandMaxLinks == 0)
        {
            return;
        }

        _onDemandTimer ??= _time.CreateTimer(_ => _negotiator.Post(CheckOnDemandAsync), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _onDemandTimer.Change(due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Counts the packets sent towards each member reached through others (and over each on-demand link), makes a
    /// direct link wanted when a member's rate reaches the threshold and releases on-demand links that went idle. Runs
    /// once a second while such traffic flows and every five seconds while none does; never in a mesh.
    /// </summary>
    private Task CheckOnDemandAsync(CancellationToken ct)
    {
        if (!_structured || _onDemand is null)
        {
            return Task.CompletedTask;
        }

        TimeSpan now = _time.GetElapsedTime(_startTimestamp);
        double seconds = Math.Max(1, (now - _lastOnDemandCheck).TotalSeconds);
        _lastOnDemandCheck = now;
        bool active = false;
        bool wantsChanged = false;
        foreach ((object key, long sent, ulong position, PeerId holder) in TrafficTowardsMembers())
        {
            long before = _trafficSeen.TryGetValue(key, out long b) ? b : sent;
            _trafficSeen[key] = sent;
            // The planner counts packets per one-second window: a check after a quiet five-second pause hands it the rate.
            int delta = (int)Math.Clamp((sent - before) / seconds, 0, int.MaxValue);
            if (delta > 0)
            {
                active = true;
                if (_onDemand.Record(position, delta, now))
                {
                    wantsChanged = true;
                    LogOnDemandLink(_logger, holder.Value, delta);
                }
            }
        }

        Span<ulong> reaped = stackalloc ulong[16];
        int count;
        while ((count = _onDemand.Reap(now, reaped)) > 0)
        {
            wantsChanged = true;
            foreach (ulong position in reaped[..count])
            {
                LogOnDemandReaped(_logger, _byPosition.TryGetValue(position, out PeerId reapedPeer) ? reapedPeer.Value : position.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        if (wantsChanged)
        {
            _negotiator.RecheckTrust();
        }

        ArmOnDemandCheck(active ? OnDemandActiveCheck : OnDemandQuietCheck);
        return Task.CompletedTask;
    }

    /// <summary>
    /// The packets sent so far towards each member reached through others (per forwarding route; in switch mode per
    /// member route) and over each on-demand link, with a key that names the counter.
    /// </summary>
    private IEnumerable<(object Key, long Sent, ulong Position, PeerId Holder)> TrafficTowardsMembers()
    {
        foreach ((IPAddress address, PeerId holder) in _owners.Held)
        {
            if (!_positions.TryGetValue(holder, out ulong position))
            {
                continue;
            }

            if (_onDemand!.Contains(position) && _linkOf.TryGetValue(holder, out ITincanLink? direct))
            {
                yield return (direct, direct.GetStats().PacketsSent, position, holder);
            }
            else if (_routes.GetForwardedPackets(HostPrefix(address)) is { } forwarded)
            {
                yield return (HostPrefix(address), forwarded, position, holder);
            }
        }

        if (RoutesMacs)
        {
            foreach ((object Key, long Sent, ulong Position, PeerId Holder) traffic in MemberMacTraffic())
            {
                yield return traffic;
            }
        }
    }

    [LoggerMessage(23, LogLevel.Information, "on-demand link to {Peer}: {Packets} packets in the last window went through other members")]
    private static partial void LogOnDemandLink(ILogger logger, string peer, int packets);

    [LoggerMessage(24, LogLevel.Information, "on-demand link to {Peer} released: idle")]
    private static partial void LogOnDemandReaped(ILogger logger, string peer);
}
