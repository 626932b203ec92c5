using System.Net;
using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>After a transport packet authenticated: activity, counters, path moves and the promotion of a next session.</summary>
internal sealed partial class TincanLink
{
    /// <summary>
    /// Receive thread, after a transport packet on <paramref name="session"/> authenticated. <paramref name="relay"/>:
    /// the packet came through our TURN allocation on that path (null: on the socket from <paramref name="from"/>).
    /// </summary>
    internal void OnAuthenticated(Session session, SocketAddress from, ContentKind kind, int payloadLength, long now, RelayedPath? relay = null)
    {
        _activity.OnReceived(now, kind);
        if (kind == ContentKind.Packet)
        {
            _counters.OnPacketReceived(payloadLength);
        }

        ILinkPath? path = Volatile.Read(ref _path);
        if (relay is null && path is DirectUdpPath direct && direct.IsSameAddress(from))
        {
            if (direct.Kind != LinkPath.Relayed)
            {
                _paths.OnDirectReceived(now);
            }
        }
        else if (relay is null || !ReferenceEquals(path, relay))
        {
            // Another address or route than the path in use: roaming, an upgrade from relay to direct, or a
            // fallback to the relay (rare; under the lock).
            lock (_gate)
            {
                if (!_closed)
                {
                    ObservePath(from, relay, now, handshake: false);
                }
            }

            _manager.RaiseQueuedEvents();
        }

        bool promoted = false;
        if (ReferenceEquals(session, Volatile.Read(ref _next)) || Volatile.Read(ref _status).State != LinkState.Connected)
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                if (ReferenceEquals(session, _next))
                {
                    // The initiator used the keys, so it completed the handshake: promote (WireGuard 5.4.3).
                    KeepForReceive(_current);
                    Volatile.Write(ref _current, session);
                    _next = null;
                    _counters.OnHandshake();

                    // The initiator confirms at once with a keepalive, so this is close to one round trip.
                    Volatile.Write(ref _rttTicks, now - session.ResponseSentAt);
                    promoted = true;
                }

                _handshake.OnHeard(connected: _current is not null);
                if (_current is not null)
                {
                    StopIce();
                    SetConnected();
                }
            }

            _manager.RaiseQueuedEvents();
        }

        if (promoted)
        {
            FlushStaged();
        }
    }
}
