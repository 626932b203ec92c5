using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// When a link next needs its timer (issue 14): the earliest of its handshake retry, rekey, keepalive, expiry,
/// dead-peer check, relay probes and path MTU round. The node arms one <see cref="DeadlineTimer"/> for the earliest
/// of all links, so an idle link costs one wakeup per keepalive interval and nothing in between.
/// </summary>
internal sealed partial class TincanLink
{
    /// <summary>
    /// Control loop: the earliest time <see cref="OnTick"/> has something to do (<see cref="long.MinValue"/>: at once;
    /// <see cref="long.MaxValue"/>: nothing until an event). Computed from the current state only, so a deadline that
    /// a packet moved later is simply found later (the timer fires early once and re-arms).
    /// </summary>
    internal long NextDue()
    {
        if (_closed)
        {
            return long.MaxValue;
        }

        long due = _handshake.NextDue(canSend: _manager.Mux is not null);
        if (_current is { } current)
        {
            due = Math.Min(due, _liveness.NextDue(current.Created, _activity, _handshake.CanBegin, _keepaliveTriedAt));
            due = Math.Min(due, _paths.NextProbeAt(_path?.Kind));
        }

        foreach (Session older in _older)
        {
            due = Math.Min(due, older.Created + _timings.RejectAfter);
        }

        if (_next is { } next)
        {
            due = Math.Min(due, next.Created + _timings.RejectAfter);
        }

        return Math.Min(due, PathMtuNextDue());
    }

    // Control loop: when the prober needs the timer; also publishes when it would if full-size traffic started.
    private long PathMtuNextDue()
    {
        ILinkPath? path = _current is null ? null : _path;
        if (path is null)
        {
            return long.MaxValue;
        }

        if (_pathMtu is not { } prober || !ReferenceEquals(path, _pathMtuPath))
        {
            // A new path: its search starts at the next wakeup, at once.
            return long.MinValue;
        }

        Volatile.Write(ref _pathMtuDueWithTraffic, prober.NextDueWithTraffic());
        return prober.NextDue(trafficSeen: Volatile.Read(ref _fullSizeSent) != 0);
    }
}
