using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// What the node's <see cref="DeadlineTimer"/> does for a link when it fires: handshake retries, rekeys, keepalives,
/// expiry, dead-peer detection and probes (<c>TincanLink.Deadlines.cs</c> says when the next one is due).
/// </summary>
internal sealed partial class TincanLink
{
    // When the last keepalive was tried (control loop): one that could not go out is tried again a keepalive interval
    // later, not at every wakeup.
    private long _keepaliveTriedAt;

    /// <summary>Control loop, when the node's timer fires: retries, rekeys, keepalives, expiry, dead-peer detection.</summary>
    internal void OnTick(long now)
    {
        bool keepalive = false;
        bool probe = false;
        if (_closed)
        {
            return;
        }

        HandshakeStep step = _handshake.Tick(now, canSend: _manager.Mux is not null);
        if ((step & HandshakeStep.SprayRelayed) != 0 && _pending is { Message.Length: > 0 } pending)
        {
            // The relayed copies of the first attempt, after the direct head start.
            Spray(pending.Message, direct: false, relayed: true);
        }

        if ((step & HandshakeStep.GiveUp) != 0)
        {
            GiveUp();
        }
        else if ((step & HandshakeStep.Retry) != 0)
        {
            SendInitiation(now);
        }
        else if ((step & HandshakeStep.BeginDeferred) != 0)
        {
            if (_candidatePaths.Count == 0 && _path is null)
            {
                StartOnLoop(_candidates);
            }
            else
            {
                BeginEpisode();
            }
        }

        if (_current is { } current)
        {
            LivenessVerdict due = _liveness.Evaluate(now, current.Created, _activity);
            if (due.Expired)
            {
                Retire(current);
                SetCurrent(null);
                if (_handshake.CanBegin && _handshake.Request(now))
                {
                    BeginEpisode();
                }
            }
            else
            {
                if (due.Rekey && _handshake.CanBegin)
                {
                    BeginEpisode();
                }

                // A persistent keepalive due within an eighth of its interval goes now, while the node is awake anyway:
                // the idle links of a node then keep their NAT bindings on one wakeup instead of one each.
                keepalive = due.Keepalive || _liveness.KeepaliveDueWithin(now, _activity.LastSent, _timings.Keepalive / 8);
                probe = _paths.ProbesDue(_path?.Kind, now);
                if (due.Broken && _handshake.CanBegin)
                {
                    // A handshake over every path (the relay after a short head start for direct ones) finds
                    // the one that still works; ObservePath moves the link to it.
                    _manager.LogPathSilent(this, TimeSpan.FromSeconds((double)due.Silent / _manager.Time.TimestampFrequency));
                    BeginEpisode();
                }
            }
        }

        ExpireOldSessions(now);

        if (keepalive)
        {
            _keepaliveTriedAt = now;
            SendKeepalive();
        }

        if (probe)
        {
            SendProbes();
        }

        // Path MTU discovery rides on this timer (issue 13): no timer of its own.
        TickPathMtu(now);
    }

    // Control loop: keepalives to the peer's direct candidates while relayed; the first one that
    // authenticates at the peer moves it (and then us) to the direct path.
    private void SendProbes()
    {
        Span<byte> buffer = stackalloc byte[PayloadOffset + TransportCipher.TagLength];
        foreach (DirectUdpPath candidate in Volatile.Read(ref _candidatePaths))
        {
            if (candidate.Kind != LinkPath.Relayed)
            {
                SendPayload(buffer, ReadOnlySpan<byte>.Empty, ContentKind.Keepalive, via: candidate);
            }
        }
    }
}
