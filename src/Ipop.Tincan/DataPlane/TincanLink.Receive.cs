using System.Net;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>After a transport packet authenticated: activity, counters, path moves and the promotion of a next session.</summary>
internal sealed partial class TincanLink
{
    // 1 while a step for OnHeard is posted and has not run: one at a time, so a burst of packets posts once.
    private int _heardPosted;

    /// <summary>
    /// Receive thread, after a transport packet on <paramref name="session"/> authenticated. <paramref name="relay"/>:
    /// the packet came through our TURN allocation on that path (null: on the socket from <paramref name="from"/>).
    /// Takes no lock: what needs the control state (a path move, promoting the next session, the first packet after a
    /// failure) is posted to the control loop.
    /// </summary>
    internal void OnAuthenticated(Session session, SocketAddress from, ContentKind kind, int payloadLength, long now, RelayedPath? relay = null)
    {
        if (_activity.OnReceived(now, kind))
        {
            // Data to answer: a passive keepalive is due after a while unless this side sends something first.
            _manager.Deadlines.WakeBy(_activity.LastSent + _timings.PassiveKeepalive);
        }

        if (kind is ContentKind.Packet or ContentKind.ForwardedFrame)
        {
            _counters.OnPacketReceived(payloadLength);
        }

        ILinkPath? path = Volatile.Read(ref _path);
        bool observe = false;
        if (relay is null && path is DirectUdpPath direct && direct.IsSameAddress(from))
        {
            if (direct.Kind != LinkPath.Relayed)
            {
                _paths.OnDirectReceived(now);
            }
        }
        else if (relay is null || !ReferenceEquals(path, relay))
        {
            // Another address or route than the path in use: roaming, an upgrade from relay to direct, or a fallback
            // to the relay (rare).
            observe = true;
        }

        bool promote = ReferenceEquals(session, Volatile.Read(ref _next)) || Status.State != LinkState.Connected;
        if ((observe || promote) && Interlocked.Exchange(ref _heardPosted, 1) == 0)
        {
            PostHeard(session, observe ? Copy(from) : null, relay, now);
        }
    }

    // Apart from OnAuthenticated: a lambda that captures a method's parameters allocates its closure when the method
    // is entered, which would cost every packet an allocation.
    private void PostHeard(Session session, SocketAddress? from, RelayedPath? relay, long now) =>
        _manager.Control.Post(() => OnHeard(session, from, relay, now));

    // Control loop: the rare work after an authenticated packet (`from` is set when the path may have to move).
    private void OnHeard(Session session, SocketAddress? from, RelayedPath? relay, long now)
    {
        Volatile.Write(ref _heardPosted, 0);
        if (_closed)
        {
            return;
        }

        if (from is not null)
        {
            ObservePath(from, relay, now, handshake: false);
        }

        bool promoted = false;
        if (ReferenceEquals(session, _next) || _status.State != LinkState.Connected)
        {
            if (ReferenceEquals(session, _next))
            {
                // The initiator used the keys, so it completed the handshake: promote (WireGuard 5.4.3).
                KeepForReceive(_current);
                Volatile.Write(ref _next, null);
                SetCurrent(session);
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

        if (promoted)
        {
            FlushStaged();
        }
    }

    private static SocketAddress Copy(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span.CopyTo(copy.Buffer.Span);
        return copy;
    }
}
