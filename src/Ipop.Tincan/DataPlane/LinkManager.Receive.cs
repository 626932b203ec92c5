using System.Net;
using Ipop.Tincan.Crypto;
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
            default:
                Drops.Add(DropReason.UnknownType);
                break;
        }
    }

    // The hot path: no allocation, no lock (the rare promotion of a next session is posted to the control loop).
    private void OnTransport(Span<byte> datagram, SocketAddress from, RelayedPath? relay, Memory<byte> batchable)
    {
        if (datagram.Length > MaxTransportDatagram)
        {
            Drops.Add(DropReason.Oversize);
            return;
        }

        if (!TransportHeader.TryRead(datagram, out ContentKind kind, out uint index, out ulong counter))
        {
            Drops.Add(DropReason.Malformed);
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
            case ContentKind.Control:
                RaiseControlMessage(link, plaintext);
                break;
            case ContentKind.Probe:
                link.OnPathMtuProbe(plaintext);
                break;
            case ContentKind.ProbeAck:
                link.OnPathMtuProbeAck(plaintext);
                break;
            default:
                break;
        }
    }

    private void OnInitiation(Span<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!HandshakeInitiationMessage.TryRead(datagram, out uint senderIndex, out ReadOnlySpan<byte> noiseMessage))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        if (!HandshakeMac.Verify(datagram, OwnMacKey))
        {
            Drops.Add(DropReason.MacMismatch);
            if (Drops.ShouldLog(DropReason.MacMismatch))
            {
                long refused = Drops.Get(DropReason.MacMismatch);
                LogWrongKeyForUs(_logger, new EndPointText(from), refused);
            }

            return;
        }

        var noise = new NoiseIKHandshake(initiator: false, Keys, ReadOnlySpan<byte>.Empty, Prologue);
        Span<byte> timestamp = stackalloc byte[Tai64N.Length];
        if (!noise.TryReadMessage1(noiseMessage, StaticSecrets, timestamp, out int length) || length != Tai64N.Length)
        {
            noise.Dispose();
            Drops.Add(DropReason.AuthenticationFailed);
            if (Drops.ShouldLog(DropReason.AuthenticationFailed))
            {
                LogBadInitiation(_logger, UdpMux.ToEndPoint(from), Drops.Get(DropReason.AuthenticationFailed));
            }

            return;
        }

        // IK: the initiator's static key is authenticated now; only keys a link authorized may go on.
        var remoteKey = new NodePublicKey(noise.RemoteStatic);
        if (!_byKey.TryGetValue(remoteKey, out TincanLink? link))
        {
            noise.Dispose();
            Drops.Add(DropReason.UnknownKey);
            if (Drops.ShouldLog(DropReason.UnknownKey))
            {
                long refused = Drops.Get(DropReason.UnknownKey);
                LogUnknownKey(_logger, new EndPointText(from), remoteKey, refused);
            }

            return;
        }

        // The control loop answers (bounded: a flood of valid initiations is dropped, counted, not queued without end).
        byte[] stamp = timestamp.ToArray();
        SocketAddress source = CopyAddress(from);
        if (!Control.TryPostHandshake(() => link.OnInitiation(noise, senderIndex, stamp, source, relay)))
        {
            noise.Dispose();
            Drops.Add(DropReason.HandshakeBacklog);
        }
    }

    private void OnResponse(Span<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!HandshakeResponseMessage.TryRead(datagram, out uint senderIndex, out uint receiverIndex, out ReadOnlySpan<byte> noiseMessage))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        if (!HandshakeMac.Verify(datagram, OwnMacKey))
        {
            Drops.Add(DropReason.MacMismatch);
            return;
        }

        if (!_indices.TryGetValue(receiverIndex, out IndexEntry? entry) || entry is not PendingHandshake pending)
        {
            Drops.Add(DropReason.UnknownIndex);
            return;
        }

        byte[] message = noiseMessage.ToArray();
        SocketAddress source = CopyAddress(from);
        if (!Control.TryPostHandshake(() => pending.Link.OnResponse(pending, senderIndex, message, source, relay)))
        {
            Drops.Add(DropReason.HandshakeBacklog);
        }
    }

    // The socket reuses its receive address: a step that runs later needs its own copy.
    private static SocketAddress CopyAddress(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span.CopyTo(copy.Buffer.Span);
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

        public void OnBatchEnd() => manager.FlushDeliveries();
    }
}
