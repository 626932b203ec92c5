using System.Buffers;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Link;
using Ipop.Tincan.DataPlane.Udp;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The way out: an outgoing packet is sealed with the current session's send key and counter and sent on the path
/// in use; without a usable session it is held (interface packets only) while a handshake is requested.
/// </summary>
internal sealed partial class TincanLink
{
    // 1 while a handshake or rekey request is posted and has not run.
    private int _handshakeRequested;

    public bool TrySend(ReadOnlySpan<byte> packet) => SendRented(packet, ContentKind.Packet);

    public bool TrySendControl(ReadOnlySpan<byte> message) => SendRented(message, ContentKind.Control);

    /// <summary>
    /// Seals <paramref name="payload"/> into <paramref name="buffer"/> (headroom, header, ciphertext, tag) and sends it.
    /// <paramref name="payload"/> may be exactly <c>buffer[PayloadOffset..]</c> (sealed in place) or separate memory.
    /// Any thread; takes no lock: it reads the <see cref="Snapshot"/> the control loop published, and posts to the
    /// loop when a handshake is needed.
    /// </summary>
    /// <param name="buffer">Headroom, header slot, payload slot and tag room.</param>
    /// <param name="payload">The plaintext.</param>
    /// <param name="kind">What the packet carries.</param>
    /// <param name="stageWithoutSession">
    /// Hold the packet while a handshake runs instead of dropping it (the interface path; <see cref="TrySend"/>
    /// keeps its contract of refusing when not connected).
    /// </param>
    /// <param name="via">A candidate path to probe instead of the path in use (NAT traversal); not counted as traffic.</param>
    /// <returns><c>true</c> if sent (or held for the handshake).</returns>
    internal bool SendPayload(Span<byte> buffer, ReadOnlySpan<byte> payload, ContentKind kind, bool stageWithoutSession = false, ILinkPath? via = null) =>
        Seal(buffer, payload, kind, stageWithoutSession, via, default, null);

    /// <summary>
    /// The NIC thread's batched send: seals the packet at <c>buffer[PayloadOffset..(PayloadOffset + payloadLength)]</c>
    /// in place and queues the datagram on <paramref name="batch"/> (sent with the rest of the batch, one system
    /// call for many). Without a session the packet is held for the handshake, as <see cref="SendPayload"/> does.
    /// </summary>
    /// <param name="buffer">Pinned memory: headroom, header slot, the packet, tag room.</param>
    /// <param name="payloadLength">The packet's length.</param>
    /// <param name="batch">Where the sealed datagram goes; it must have room for one more.</param>
    internal bool QueuePacket(Memory<byte> buffer, int payloadLength, DatagramBatch batch)
    {
        Span<byte> span = buffer.Span;
        return Seal(span, span.Slice(PayloadOffset, payloadLength), ContentKind.Packet, stageWithoutSession: true, via: null, buffer, batch);
    }

    // Both ways out: sent now (batch null), or queued on the NIC thread's batch (bufferMemory is buffer as memory).
    private bool Seal(Span<byte> buffer, ReadOnlySpan<byte> payload, ContentKind kind, bool stageWithoutSession, ILinkPath? via, Memory<byte> bufferMemory, DatagramBatch? batch)
    {
        // A forwarded frame carries its shim on top of a frame of up to the full payload (docs/routing.md, "MTU").
        if (payload.Length > (kind == ContentKind.ForwardedFrame ? _manager.MaxPayload + ForwardedFrameHeader.Length : _manager.MaxPayload))
        {
            CountDrop(DropReason.Oversize);
            return false;
        }

        LinkSnapshot? snapshot = Snapshot;
        long now = _manager.Time.GetTimestamp();
        if (snapshot is null || _liveness.IsExpired(now, snapshot.Current.Created))
        {
            bool staged = stageWithoutSession && kind == ContentKind.Packet && !Volatile.Read(ref _closed) && !_handshake.GivenUp && Stage(payload);
            if (!staged)
            {
                CountDrop(DropReason.NoSession);
            }

            RequestHandshake();
            return staged;
        }

        Session session = snapshot.Current;
        ILinkPath path = via ?? snapshot.Path;
        ulong counter = session.NextCounter();
        if (counter >= ReplayWindow.RejectAfterMessages)
        {
            _manager.Drops.Add(DropReason.NoSession);
            RequestHandshake();
            return false;
        }

        Span<byte> header = buffer.Slice(ILinkPath.Headroom, TransportHeader.Length);
        TransportHeader.Write(header, kind, session.RemoteIndex, counter);
        int sealedLength = payload.Length + TransportCipher.TagLength;
        if (!session.TrySeal(counter, header, payload, buffer.Slice(PayloadOffset, sealedLength)))
        {
            // Retired since the snapshot was read (its keys are freed): the loop publishes the next one.
            CountDrop(DropReason.NoSession);
            return false;
        }

        bool sent = batch is null
            ? path.Send(buffer[..(PayloadOffset + sealedLength)])
            : path.Queue(bufferMemory[..(PayloadOffset + sealedLength)], batch);
        if (!sent)
        {
            // The path counted the reason (socket error, relay down).
            _counters.OnSendFailed();
            return false;
        }

        if (via is not null)
        {
            // A probe on a candidate path: it must not stand in for the keepalive on the path in use.
            return true;
        }

        if (_activity.OnSent(now, kind))
        {
            // The first data after the last thing heard: the broken-path check may now come before the armed wakeup.
            _manager.Deadlines.WakeBy(_liveness.UnansweredDue(now));
        }

        if (kind is ContentKind.Packet or ContentKind.ForwardedFrame)
        {
            _counters.OnPacketSent(payload.Length);
        }

        // Either side asks for a new session when its own send counter runs high (only it knows that count).
        if (counter >= (ulong)_timings.RekeyAfterMessages)
        {
            RequestRekey(session);
        }

        return true;
    }

    // Any thread: hold a packet until a session exists. Re-checks afterwards so a session that appeared meanwhile
    // does not leave the packet waiting for the next handshake.
    private bool Stage(ReadOnlySpan<byte> payload)
    {
        StagedPackets staged = Volatile.Read(ref _staged) ?? InitializeStaged();
        if (!staged.Add(payload))
        {
            CountDrop(DropReason.NoSession);
        }

        if (HasUsableSession())
        {
            FlushStaged();
        }

        return true;
    }

    // The same test SendPayload makes, so a flush never stages its own packets again (no recursion).
    private bool HasUsableSession()
    {
        LinkSnapshot? snapshot = Snapshot;
        return snapshot is not null && !_liveness.IsExpired(_manager.Time.GetTimestamp(), snapshot.Current.Created);
    }

    private StagedPackets InitializeStaged()
    {
        var fresh = new StagedPackets(_manager.MaxPayload);
        return Interlocked.CompareExchange(ref _staged, fresh, null) ?? fresh;
    }

    /// <summary>Sends the packets held during the handshake.</summary>
    /// <returns><c>true</c> if at least one went out.</returns>
    private bool FlushStaged()
    {
        StagedPackets? staged = Volatile.Read(ref _staged);
        if (staged is null || staged.Count == 0)
        {
            return false;
        }

        bool any = false;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(PayloadOffset + _manager.MaxPayload + TransportCipher.TagLength);
        try
        {
            while (HasUsableSession() && staged.TryTake(buffer.AsSpan(PayloadOffset), out int length))
            {
                any |= SendPayload(buffer, buffer.AsSpan(PayloadOffset, length), ContentKind.Packet);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return any;
    }

    private bool SendRented(ReadOnlySpan<byte> payload, ContentKind kind)
    {
        if (payload.Length > _manager.MaxPayload)
        {
            CountDrop(DropReason.Oversize);
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(PayloadOffset + payload.Length + TransportCipher.TagLength);
        try
        {
            return SendPayload(buffer, payload, kind);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void SendKeepalive()
    {
        Span<byte> buffer = stackalloc byte[PayloadOffset + TransportCipher.TagLength];
        SendPayload(buffer, ReadOnlySpan<byte>.Empty, ContentKind.Keepalive);
    }

    // Any thread: no usable session. Posts one request at a time to the control loop, so a flood of packets does not
    // flood the loop.
    private void RequestHandshake()
    {
        if (Volatile.Read(ref _pending) is not null || Volatile.Read(ref _closed) || Interlocked.Exchange(ref _handshakeRequested, 1) != 0)
        {
            return;
        }

        _manager.Control.Post(() =>
        {
            Volatile.Write(ref _handshakeRequested, 0);
            if (!_closed && _handshake.CanBegin && !_handshake.Deferred && _manager.Mux is not null && _handshake.Request(_manager.Time.GetTimestamp()))
            {
                BeginEpisode();
            }
        });
    }

    // Any thread: the send counter of `session` ran high.
    private void RequestRekey(Session session)
    {
        if (Volatile.Read(ref _pending) is not null || Interlocked.Exchange(ref _handshakeRequested, 1) != 0)
        {
            return;
        }

        _manager.Control.Post(() =>
        {
            Volatile.Write(ref _handshakeRequested, 0);
            if (_pending is null && !_closed && ReferenceEquals(session, _current))
            {
                BeginEpisode();
            }
        });
    }
}
