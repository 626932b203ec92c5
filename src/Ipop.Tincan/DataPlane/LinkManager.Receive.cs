using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>The receive path: handshake messages and transport packets, on the socket's receive thread.</summary>
internal sealed partial class LinkManager
{
    /// <summary>
    /// Handles one Ipop datagram (types 4-7). Receive thread only: sessions' replay windows are not thread-safe.
    /// <paramref name="relay"/> is the path through our TURN allocation the datagram came over (null: on the socket
    /// from <paramref name="from"/>), so the link answers over the relay instead of to the TURN server's address.
    /// </summary>
    internal void OnIpopDatagram(Span<byte> datagram, SocketAddress from, RelayedPath? relay = null) =>
        OnIpopDatagram(datagram, from, relay, Memory<byte>.Empty);

    /// <summary>
    /// As <see cref="OnIpopDatagram(Span{byte}, SocketAddress, RelayedPath?)"/>, for a datagram whose memory stays
    /// valid until the receive batch ends: its packet joins the batched write to the interface.
    /// </summary>
    internal void OnIpopDatagram(Memory<byte> datagram, SocketAddress from, RelayedPath? relay = null) =>
        OnIpopDatagram(datagram.Span, from, relay, datagram);

    private void OnIpopDatagram(Span<byte> datagram, SocketAddress from, RelayedPath? relay, Memory<byte> batchable)
    {
        switch ((MessageType)datagram[0])
        {
            case MessageType.TransportData:
                OnTransport(datagram, from, relay, batchable);
                break;
            case MessageType.HandshakeInitiation:
                OnInitiation(datagram, from, relay);
                break;
            case MessageType.HandshakeResponse:
                OnResponse(datagram, from, relay);
                break;
            case MessageType.CookieReply:
                OnCookieReply(datagram);
                break;
            default:
                Drops.Add(DropReason.UnknownType);
                break;
        }
    }

    // The hot path: no allocation, no lock (the rare promotion of a next session is posted to the control loop).
    private void OnTransport(Span<byte> datagram, SocketAddress from, RelayedPath? relay, Memory<byte> batchable)
    {
        if (datagram.Length > MaxTransportDatagram + ForwardedFrameHeader.Length)
        {
            Drops.Add(DropReason.Oversize);
            return;
        }

        if (!TransportHeader.TryRead(datagram, out ContentKind kind, out uint index, out ulong counter))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        if (datagram.Length > MaxTransportDatagram && kind != ContentKind.ForwardedFrame)
        {
            // Only a forwarded frame's shim may go past the payload limit (docs/routing.md, "MTU").
            Drops.Add(DropReason.Oversize);
            return;
        }

        if (!_indices.TryGetValue(index, out IndexEntry? entry) || entry is not Session session)
        {
            Drops.Add(DropReason.UnknownIndex);
            return;
        }

        TincanLink link = session.Link;
        if (!session.Replay.Check(counter))
        {
            link.CountDrop(DropReason.Replay);
            return;
        }

        long now = Time.GetTimestamp();
        if (now - session.Created >= RejectAfterTicks)
        {
            link.CountDrop(DropReason.NoSession);
            return;
        }

        // Open in place: NSec allows plaintext and ciphertext to start at the same address.
        Span<byte> body = datagram[TransportHeader.Length..];
        Span<byte> plaintext = body[..^TransportCipher.TagLength];
        SessionOpenResult opened = session.TryOpen(counter, datagram[..TransportHeader.Length], body, plaintext);
        if (opened == SessionOpenResult.Retired)
        {
            link.CountDrop(DropReason.NoSession);
            return;
        }

        if (opened == SessionOpenResult.Failed)
        {
            link.CountDrop(DropReason.AuthenticationFailed);
            if (Drops.ShouldLog(DropReason.AuthenticationFailed))
            {
                LogAuthenticationFailed(_logger, link.Peer.Value, Drops.Get(DropReason.AuthenticationFailed));
            }

            return;
        }

        if (!session.Replay.TryAccept(counter))
        {
            link.CountDrop(DropReason.Replay);
            return;
        }

        link.OnAuthenticated(session, from, kind, plaintext.Length, now, relay);
        switch (kind)
        {
            case ContentKind.Packet:
                DeliverToInterface(link, plaintext, batchable.IsEmpty ? batchable : batchable.Slice(TransportHeader.Length, plaintext.Length));
                break;
            case ContentKind.ForwardedFrame:
                OnForwardedFrame(link, plaintext, batchable.IsEmpty ? batchable : batchable.Slice(TransportHeader.Length, plaintext.Length));
                break;
            case ContentKind.Control:
                RaiseControlMessage(link, plaintext);
                break;
            case ContentKind.Probe:
                link.OnPathMtuProbe(plaintext);
                break;
            case ContentKind.ProbeAck:
                link.OnPathMtuProbeAck(plaintext);
                break;
            case ContentKind.EchoRequest:
                link.OnEchoRequest(plaintext, relay);
                break;
            case ContentKind.EchoReply:
                link.OnEchoReply(plaintext, from, relay, now);
                break;
            default:
                break;
        }
    }

    // Receive thread: only cheap checks (length, load, mac1, mac2, rate; see HandshakeGate), then a copy into the handshake queue. The
    // Diffie-Hellman work runs on the queue's drain (LinkManager.Handshake.cs), so a flood of initiations with a
    // valid mac1 costs this thread a hash lookup per message (under load) and never holds up transport packets
    // behind curve work.
    private void OnInitiation(Span<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!HandshakeInitiationMessage.TryRead(datagram, out uint senderIndex, out _))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        // Through our relay the source is the TURN server, shared by every relayed peer, and the relay admits only
        // the addresses we installed permissions for: cookies and per-address rates would only hurt there.
        HandshakeGate gate = Handshakes;
        HandshakeAdmission admission = relay is not null
            ? (HandshakeMac.Verify(datagram, OwnMacKey) ? HandshakeAdmission.Queue : HandshakeAdmission.WrongMac1)
            : gate.Admit(datagram, from);
        if (relay is null && !HandshakeMac.HasMac2(datagram))
        {
            // Whatever the decision (also not under load, when the filter's sample is let into the queue): the
            // detector must see every unproven initiation the kernel let through, or a listed flooder looks quiet.
            ObserveUnproven(gate, from);
        }

        switch (admission)
        {
            case HandshakeAdmission.WrongMac1:
                Drops.Add(DropReason.MacMismatch);
                if (Drops.ShouldLog(DropReason.MacMismatch))
                {
                    long refused = Drops.Get(DropReason.MacMismatch);
                    LogWrongKeyForUs(_logger, new EndPointText(from), refused);
                }

                break;
            case HandshakeAdmission.Queue:
                EnqueueHandshake(gate, datagram, from, relay);
                break;
            case HandshakeAdmission.SendCookie:
                Span<byte> reply = stackalloc byte[CookieReplyMessage.Length];
                gate.Cookies.WriteReply(reply, senderIndex, datagram, from);
                Mux?.SendTo(reply, from);
                CountHandshakeRefusal(DropReason.HandshakeCookieRequired, from);
                break;
            case HandshakeAdmission.CookieLimited:
                CountHandshakeRefusal(DropReason.CookieReplyLimited, from);
                break;
            default:
                CountHandshakeRefusal(DropReason.HandshakeRateLimited, from);
                break;
        }
    }

    private void OnResponse(Span<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!HandshakeResponseMessage.TryRead(datagram, out _, out uint receiverIndex, out _))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        if (!HandshakeMac.Verify(datagram, OwnMacKey))
        {
            Drops.Add(DropReason.MacMismatch);
            return;
        }

        // Only a response to an initiation of ours that is still pending goes on: a flood of responses ends here.
        if (!_indices.TryGetValue(receiverIndex, out IndexEntry? entry) || entry is not PendingHandshake)
        {
            Drops.Add(DropReason.UnknownIndex);
            return;
        }

        EnqueueHandshake(Handshakes, datagram, from, relay);
    }

    // A responder under load answered our initiation with a cookie: the link keeps it for its next attempt's mac2.
    private void OnCookieReply(Span<byte> datagram)
    {
        if (!CookieReplyMessage.TryRead(datagram, out uint receiverIndex))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        if (!_indices.TryGetValue(receiverIndex, out IndexEntry? entry) || entry is not PendingHandshake pending)
        {
            Drops.Add(DropReason.UnknownIndex);
            return;
        }

        byte[] reply = datagram.ToArray();
        if (!Control.TryPostHandshake(() => pending.Link.OnCookieReply(pending, reply)))
        {
            Drops.Add(DropReason.HandshakeBacklog);
        }
    }

    private void EnqueueHandshake(HandshakeGate gate, Span<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!gate.Queue.TryEnqueue(datagram, from, relay))
        {
            CountHandshakeRefusal(DropReason.HandshakeQueueFull, from);
        }
    }

    private void CountHandshakeRefusal(DropReason reason, SocketAddress from)
    {
        Drops.Add(reason);
        if (Drops.ShouldLog(reason))
        {
            LogHandshakeRefused(_logger, reason, new EndPointText(from), Drops.Get(reason));
        }
    }

    // The socket reuses its receive address: a step that runs later needs its own copy.
    private static SocketAddress CopyAddress(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    internal void LogHandshakeReplay(TincanLink link, SocketAddress from)
    {
        if (Drops.ShouldLog(DropReason.HandshakeReplay))
        {
            LogReplayedInitiation(_logger, link.Peer.Value, UdpMux.ToEndPoint(from), Drops.Get(DropReason.HandshakeReplay));
        }
    }

    internal void LogHandshakeAccepted(TincanLink link, SocketAddress from)
    {
        LogAccepted(_logger, link.Peer.Value, new EndPointText(from));
    }

    internal void LogHandshakeCompleted(TincanLink link, SocketAddress from)
    {
        LogCompleted(_logger, link.Peer.Value, new EndPointText(from));
    }

    internal void LogHandshakeSent(TincanLink link, int attempt) => LogInitiationSent(_logger, link.Peer.Value, attempt);

    // Information, not Warning: a stranger knocking is expected on the internet, and an operator needs to see it at the
    // default level to notice a peer configured with the wrong key. Rate-limited to one line per 10 s per reason.
    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Refused a handshake from {From}: key {Key} is not authorized for any link ({Count} refused so far)")]
    private static partial void LogUnknownKey(ILogger logger, EndPointText from, NodePublicKey key, long count);

    [LoggerMessage(EventId = 17, Level = LogLevel.Information, Message = "Refused a handshake from {From}: it was addressed to another public key than this node's (the sender is configured with a wrong key for us; {Count} refused so far)")]
    private static partial void LogWrongKeyForUs(ILogger logger, EndPointText from, long count);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Dropped a handshake initiation from {From} that did not authenticate ({Count} failures so far)")]
    private static partial void LogBadInitiation(ILogger logger, IPEndPoint? from, long count);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Dropped a replayed handshake initiation for {Peer} from {From} ({Count} so far)")]
    private static partial void LogReplayedInitiation(ILogger logger, string peer, IPEndPoint? from, long count);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "Dropped packets from {Peer} that failed authentication ({Count} so far)")]
    private static partial void LogAuthenticationFailed(ILogger logger, string peer, long count);

    [LoggerMessage(EventId = 14, Level = LogLevel.Debug, Message = "Answered a handshake from {Peer} at {From}")]
    private static partial void LogAccepted(ILogger logger, string peer, EndPointText from);

    [LoggerMessage(EventId = 15, Level = LogLevel.Debug, Message = "Handshake with {Peer} at {From} completed")]
    private static partial void LogCompleted(ILogger logger, string peer, EndPointText from);

    [LoggerMessage(EventId = 16, Level = LogLevel.Debug, Message = "Sent handshake initiation to {Peer} (attempt {Attempt})")]
    private static partial void LogInitiationSent(ILogger logger, string peer, int attempt);

    // One line per reason per 10 s however hard the flood (DropCounters.ShouldLog); the count says how hard.
    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Under handshake load: refused a handshake from {From} ({Reason}; {Count} so far)")]
    private static partial void LogHandshakeRefused(ILogger logger, DropReason reason, EndPointText from, long count);

    /// <summary>Formats a socket address only when a log line is actually written.</summary>
    private readonly struct EndPointText(SocketAddress address)
    {
        private readonly IPEndPoint? _endPoint = UdpMux.ToEndPoint(address);

        public override string ToString() => _endPoint?.ToString() ?? "?";
    }

    /// <summary>Hands Ipop's message types (4-7) from the socket to the link manager.</summary>
    private sealed class IpopDatagramHandler(LinkManager manager) : IDatagramHandler
    {
        public void OnDatagram(Memory<byte> data, SocketAddress from) => manager.OnIpopDatagram(data, from);

        public void OnBatchEnd()
        {
            manager.FlushDeliveries();
            manager.SweepFloodFilter();
        }
    }
}
