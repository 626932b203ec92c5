using Ipop.Tincan.DataPlane.Mtu;
using Ipop.Tincan.DataPlane.Udp;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Frames across members of a structured overlay in switch (TAP) mode (issue 16, docs/routing.md "TAP mode"): a frame
/// for a station learned through a hop, and every flood, travels as a <see cref="ContentKind.ForwardedFrame"/> whose
/// 12-byte shim carries a hop count and, for a flood, the end of the ring range the copy still covers.
/// </summary>
/// <remarks>
/// The NIC thread writes the shim into the slot's header room in front of the frame, so the frame is not copied; each
/// copy is sealed from there into the flood buffer. The receive thread rewrites the shim of the arrived plaintext in
/// place (hops, bound) and seals each copy into its forward buffer; the frame itself, delivered to the interface
/// afterwards (or in the receive batch's write), is not touched by a flood. Nothing here allocates per frame.
/// </remarks>
internal sealed partial class LinkManager
{
    private const int EthernetHeaderLength = 14;

    // The receive thread's scratch for bounded floods; the NIC thread's is its binding's.
    private readonly FloodFanout _receiveFanout = new();

    /// <summary>NIC thread: a frame from the interface of a member of a structured overlay.</summary>
    private void RouteFrame(InterfaceBinding binding, LearningSwitch router, ulong self, Memory<byte> slot, int length, DatagramBatch sends, byte[] sealBuffer)
    {
        Span<byte> span = slot.Span;
        Span<byte> frame = span.Slice(TincanLink.PayloadOffset, length);

        // The slot's header room in front of the frame is free until the slot is sealed in place, which only a plain
        // frame is: the shim goes there, and a forwarded frame is sealed from the slot into the flood buffer.
        Span<byte> payload = span.Slice(TincanLink.PayloadOffset - ForwardedFrameHeader.Length, ForwardedFrameHeader.Length + length);
        switch (router.RouteFrame(frame, out ITincanLink? to, answerArp: true))
        {
            case SwitchRoute.Direct when to is TincanLink link && ReferenceEquals(link.Manager, this):
                if (FitOutbound(VirtualInterfaceMode.Tap, binding.Nic, link, frame, sealBuffer))
                {
                    link.QueuePacket(slot, length, sends);
                }

                break;
            case SwitchRoute.ThroughHop when to is TincanLink link && ReferenceEquals(link.Manager, this):
                // Sent at once, after what is queued, to keep the order of the interface's frames. Path MTU as for a
                // plain frame, with the shim on top: a frame too large for this link's path is answered, not sent.
                SendQueued(sends);
                if (!FitForwardedFrame(binding.Nic, link, frame, sealBuffer))
                {
                    break;
                }

                ForwardedFrameHeader.Write(payload, ForwardedFrameHeader.HopLimit, flood: false, bound: 0);
                link.NotePacketSize(payload.Length);
                link.SendPayload(sealBuffer, payload, ContentKind.ForwardedFrame);
                break;
            case SwitchRoute.AnswerLocally:
                // An ARP request for a member's address: the switch wrote the reply over it, for our own interface.
                if (!binding.Nic.Write(frame))
                {
                    Drops.Add(DropReason.InterfaceWriteFailed);
                }

                break;
            case SwitchRoute.Flood:
                SendQueued(sends);
                ForwardedFrameHeader.Write(payload, ForwardedFrameHeader.HopLimit, flood: true, bound: self);
                SendFlood(router, self, self, self, from: null, payload, sealBuffer, binding.Fanout);
                break;
            default:
                Drops.Add(DropReason.NoRoute);
                break;
        }
    }

    /// <summary>Receive thread: a forwarded frame from <paramref name="link"/> (shim, then frame).</summary>
    private void OnForwardedFrame(TincanLink link, Span<byte> payload, Memory<byte> batchable)
    {
        InterfaceBinding? binding = Volatile.Read(ref _binding);
        if (binding is null)
        {
            Drops.Add(DropReason.NoInterface);
            return;
        }

        binding.Enter();
        try
        {
            // Re-read after Enter's full fence, as DeliverToInterface does (the detach race).
            if (!ReferenceEquals(Volatile.Read(ref _binding), binding))
            {
                Drops.Add(DropReason.NoInterface);
                return;
            }

            if (binding.Router is not LearningSwitch router || binding.Nic.Mode != VirtualInterfaceMode.Tap || !router.TryGetRingPosition(out ulong self))
            {
                // Not a member of a structured overlay: this node knows no ring range to pass a flood on in, and a mesh
                // has no hops.
                link.CountDrop(DropReason.NotForwardable);
                return;
            }

            if (!ForwardedFrameHeader.TryRead(payload, out byte hops, out bool flood, out ulong bound, out bool backfill) || payload.Length < ForwardedFrameHeader.Length + EthernetHeaderLength)
            {
                link.CountDrop(DropReason.Malformed);
                return;
            }

            Span<byte> frame = payload[ForwardedFrameHeader.Length..];

            // A unicast that only passes through (its destination is behind another link) is not this member's to
            // judge by its source: paths learned from floods are arbitrary, so a neighbour's frame for someone else can
            // legitimately reach us through a third member.
            ITincanLink? next = flood ? null : router.NextHop(frame);

            // A backfill copy's range starts at its sender (BoundedFlood): members behind this one are covered from here
            // too. A repair copy reaches a member past its range only to be split over its links behind it: that member
            // passes it on without delivering it, and it may come from a neighbour whose link is up (a transit).
            ulong start = flood && backfill && router.TryGetRingPosition(link, out ulong sender) ? sender : self;
            bool deliver = start == self || BoundedFlood.Contains(start, bound, self);
            bool transit = (next is not null && !ReferenceEquals(next, link)) || !deliver;
            if (!router.AcceptForwarded(link, frame, transit))
            {
                // Checked before anything goes on: a spoofed frame is neither delivered nor forwarded.
                link.CountDrop(DropReason.SpoofedMac);
                if (Drops.ShouldLog(DropReason.SpoofedMac))
                {
                    long count = link.DroppedSpoofedCount;
                    LogSpoofed(_logger, link.Peer.Value, "MAC", count);
                }

                return;
            }

            Memory<byte> deliverable = batchable.IsEmpty ? batchable : batchable[ForwardedFrameHeader.Length..];
            if (flood)
            {
                // Every member in the range delivers its copy: the interface (its kernel bridge) drops a frame not for it.
                SendFlood(router, self, start, bound, link, payload, ForwardBuffer, _receiveFanout);
                if (deliver)
                {
                    WriteInbound(binding, link, frame, deliverable);
                }

                return;
            }

            if (next is not null && ReferenceEquals(next, link) && router.ForgetLearnedBehind(link, frame))
            {
                // The member that sent it learned the destination behind us, and we behind it: both learned from floods
                // that crossed while the ring changed. Passing it back would bounce it until its hops ran out, dropping
                // it would lose every frame until an ARP entry failed. The entry here is stale (the sender does not have
                // the station): forget it and flood from here, as for a destination never learned; the reply teaches
                // the path again.
                next = null;
            }

            if (next is null)
            {
                if (!router.IsLocalDestination(frame))
                {
                    // The path learned upstream ends here: the link toward the destination went (a re-plan released it)
                    // or its entry aged out. Dropping would lose every frame until the sender's ARP entry failed (seconds);
                    // flooding it on from here reaches the destination, whose reply teaches the path again. The range is
                    // the ring from here round to the member it came from, which had it (its own sender may get a copy
                    // back and drop it as spoofed: a rare, counted echo).
                    bool fromKnown = router.TryGetRingPosition(link, out ulong upTo);
                    ForwardedFrameHeader.Write(payload, hops, flood: true, bound: fromKnown ? upTo : self);
                    SendFlood(router, self, self, fromKnown ? upTo : self, link, payload, ForwardBuffer, _receiveFanout, originate: !fromKnown);
                }

                WriteInbound(binding, link, frame, deliverable);
                return;
            }

            ForwardFrame(link, next, hops, payload);
        }
        finally
        {
            binding.Exit();
        }
    }

    /// <summary>Receive thread: sends a unicast forwarded frame from <paramref name="from"/> on over <paramref name="to"/>.</summary>
    private void ForwardFrame(TincanLink from, ITincanLink to, byte hops, Span<byte> payload)
    {
        if (to is not TincanLink next || !ReferenceEquals(next.Manager, this))
        {
            from.CountDrop(DropReason.NotForwardable);
            return;
        }

        if (ReferenceEquals(next, from))
        {
            // The destination was learned behind the link the frame came on: the two members disagree, and passing it
            // back would bounce it until its hops ran out.
            CountForwardLoop(from);
            return;
        }

        if (hops <= 1)
        {
            CountFrameHopLimit(from, next);
            return;
        }

        if (AnswerTooBigInTransit(from, next, payload))
        {
            return;
        }

        payload[0] = (byte)(hops - 1);
        ClampForwarded(next, payload[ForwardedFrameHeader.Length..]);
        next.NotePacketSize(payload.Length);
        if (next.SendPayload(ForwardBuffer, payload, ContentKind.ForwardedFrame))
        {
            next.CountForwarded(payload.Length);
        }
    }

    /// <summary>
    /// Sends the bounded flood copies of <paramref name="payload"/> (shim, then frame) that a member at
    /// <paramref name="self"/> owes: as the originator (<paramref name="from"/> null, shim already written), or as a
    /// receiver of a copy for the range from <paramref name="start"/> to <paramref name="bound"/> from
    /// <paramref name="from"/> (hops decremented here; the copies count as forwarded on their links).
    /// </summary>
    /// <remarks>
    /// <paramref name="originate"/> with a <paramref name="from"/>: a unicast frame whose destination this member does not
    /// know, flooded on from here over every link but the one it came on (whose range the neighbour before it covers).
    /// </remarks>
    private void SendFlood(LearningSwitch router, ulong self, ulong start, ulong bound, TincanLink? from, Span<byte> payload, byte[] sealBuffer, FloodFanout fanout, bool originate = false)
    {
        TincanLink[] links = _snapshot;
        fanout.EnsureCapacity(links.Length);
        TincanLink[] candidates = fanout.Links;
        ulong[] positions = fanout.Positions;
        ulong[] blocked = fanout.Blocked;
        int n = 0;
        int down = 0;
        foreach (TincanLink link in links)
        {
            // Only links whose member has a ring position take part: the ranges are made of positions. The link a copy
            // came on is never in its range unless a member lies about positions; skipping it costs such a liar nothing.
            if (ReferenceEquals(link, from) || !router.TryGetRingPosition(link, out ulong position))
            {
                continue;
            }

            if (link.IsConnected)
            {
                candidates[n] = link;
                positions[n++] = position;
            }
            else
            {
                blocked[down++] = position;
            }
        }

        int count = BoundedFlood.Split(self, start, bound, originate: originate || from is null, positions.AsSpan(0, n), blocked.AsSpan(0, down), fanout.Targets, fanout.Bounds, out int backfill);
        if (count > 0 && from is not null)
        {
            if (payload[0] <= 1)
            {
                CountFrameHopLimit(from, candidates[fanout.Targets[0]]);
                count = 0;
            }
            else
            {
                payload[0]--;
            }
        }

        for (int j = 0; j < count; j++)
        {
            TincanLink next = candidates[fanout.Targets[j]];
            ForwardedFrameHeader.WriteBound(payload, fanout.Bounds[j], backfill: j == backfill);
            if (next.SendPayload(sealBuffer, payload, ContentKind.ForwardedFrame) && from is not null)
            {
                next.CountForwarded(payload.Length);
            }
        }

        // No references to links that may be removed before the next flood.
        Array.Clear(candidates, 0, n);
    }

    /// <summary>
    /// Receive thread: when the frame in <paramref name="payload"/> is too large for <paramref name="next"/>'s path (the
    /// path behind this hop is smaller than the one it came over), answers it over <paramref name="from"/> as a
    /// forwarded unicast back to its sender, as the originating member would have (rate-limited), and counts it.
    /// </summary>
    /// <returns><c>true</c> when the frame was answered and must not be sent on.</returns>
    /// <remarks>
    /// The answer travels back the way the frame came: each member on the way passes it toward the sender's MAC, and
    /// its source (the frame's destination) is the station those members already send to through this side, so the
    /// answer teaches no member a path it did not have. A frame that would be sent as it is at the origin (IPv4 without
    /// DF, IPv6 of at most 1280 bytes, a group address, a VLAN tag, no IP) is sent on as it is here too.
    /// </remarks>
    private bool AnswerTooBigInTransit(TincanLink from, TincanLink next, ReadOnlySpan<byte> payload)
    {
        ReadOnlySpan<byte> frame = payload[ForwardedFrameHeader.Length..];
        int limit = ForwardedFrameLimit(next);
        int l3 = EthernetPayloadOffset(frame);
        if (frame.Length <= limit || l3 < 0 || ((frame[l3] >> 4) == 6 && frame.Length - l3 <= Ipv6MinimumMtu))
        {
            return false;
        }

        // The answer is written behind a fresh shim in the forward buffer, which is free until this frame is sealed.
        byte[] buffer = ForwardBuffer;
        Span<byte> answer = buffer.AsSpan(DatagramLayout.PayloadOffset);
        int length = IcmpUnreachable.WriteTooBigFrame(frame, limit - l3, answer[ForwardedFrameHeader.Length..]);
        if (length == 0)
        {
            return false;
        }

        next.CountDrop(DropReason.PathMtuExceeded);
        ForwardedFrameHeader.Write(answer, ForwardedFrameHeader.HopLimit, flood: false, bound: 0);
        if ((_forwardingAnswers ??= new PerSecondBudget(Time, ForwardingAnswersPerSecond)).TryTake())
        {
            from.SendPayload(buffer, answer[..(ForwardedFrameHeader.Length + length)], ContentKind.ForwardedFrame);
        }

        return true;
    }

    private void CountFrameHopLimit(TincanLink from, TincanLink next)
    {
        from.CountDrop(DropReason.HopLimitExceeded);
        if (Drops.ShouldLog(DropReason.HopLimitExceeded))
        {
            long count = Drops.Get(DropReason.HopLimitExceeded);
            LogHopLimitExceeded(_logger, from.Peer.Value, next.Peer.Value, count);
        }
    }

    /// <summary>A TCP SYN in a frame bound for another member: its segments must fit the next link with the shim on top.</summary>
    private static void ClampForwarded(TincanLink next, Span<byte> frame)
    {
        int l3 = EthernetPayloadOffset(frame);
        if (l3 >= 0)
        {
            MssClamp.Apply(frame[l3..], next.EffectiveMtu - ForwardedFrameHeader.Length - l3);
        }
    }
}
