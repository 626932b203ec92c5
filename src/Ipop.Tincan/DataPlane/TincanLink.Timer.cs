using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>The manager's 100 ms tick: handshake retries, rekeys, keepalives, expiry, dead-peer detection and probes.</summary>
internal sealed partial class TincanLink
{
    /// <summary>Control loop, every tick: retries, rekeys, keepalives, expiry, dead-peer detection.</summary>
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

                keepalive = due.Keepalive;
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
            SendKeepalive();
        }

        if (probe)
        {
            SendProbes();
        }

        // Path MTU discovery rides on this tick (issue 13): no timer of its own.
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
