using Ipop.Tincan.DataPlane.Mtu;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Overlay forwarding (issue 16): a packet that arrived on one link for a member this node routes to another link is
/// sealed again and sent on, with its TTL or hop limit decremented, without touching the interface. Receive thread only.
/// </summary>
/// <remarks>
/// Loops cannot last: a forward back out of the link a packet came on is refused at once (<see cref="DropReason.ForwardLoop"/>),
/// and a longer cycle ends when the hop limit does (<see cref="DropReason.HopLimitExceeded"/>, answered with ICMP time
/// exceeded). Every answer goes back over the link the packet came on (the way toward its source), rate-limited like
/// the interface path's "too big" answers. The packet is encrypted from the receive buffer into one buffer this thread
/// owns, so forwarding allocates nothing and copies nothing but what the cipher writes.
/// </remarks>
internal sealed partial class LinkManager
{
    /// <summary>ICMP errors a forwarding node sends per second, at most (RFC 1812 section 4.3.2.8, RFC 4443 section 2.4 (f)).</summary>
    private const int ForwardingAnswersPerSecond = 100;

    // Receive thread only: the sealed datagram of a forwarded packet or of an answer (headroom, header, payload, tag).
    private byte[]? _forwardBuffer;
    private PerSecondBudget? _forwardingAnswers;

    /// <summary>Receive thread only: big enough for a forwarded frame's shim on top of a full-size payload.</summary>
    private byte[] ForwardBuffer => _forwardBuffer ??= GC.AllocateUninitializedArray<byte>(DatagramLayout.BufferSize(MaxPayload + ForwardedFrameHeader.Length));

    /// <summary>Receive thread, inside <paramref name="binding"/>: sends <paramref name="packet"/> from <paramref name="from"/> on over <paramref name="to"/>.</summary>
    private void ForwardPacket(InterfaceBinding binding, TincanLink from, ITincanLink? to, Span<byte> packet)
    {
        if (to is not TincanLink next || !ReferenceEquals(next.Manager, this) || binding.Nic.Mode != VirtualInterfaceMode.Tun)
        {
            // A frame has no hop limit to stop a loop (frames cross members only as forwarded frames with their shim:
            // Forwarding/LinkManager.FrameForwarding.cs), and a link of another node cannot seal for this one.
            from.CountDrop(DropReason.NotForwardable);
            return;
        }

        if (ReferenceEquals(next, from))
        {
            CountForwardLoop(from);
            return;
        }

        int hops = HopLimit.Read(packet);
        if (hops < 0)
        {
            from.CountDrop(DropReason.NotForwardable);
            return;
        }

        byte[] buffer = ForwardBuffer;
        if (hops <= 1)
        {
            // RFC 1812 section 5.3.1: a router must not forward a packet whose TTL it would take to 0.
            from.CountDrop(DropReason.HopLimitExceeded);
            if (Drops.ShouldLog(DropReason.HopLimitExceeded))
            {
                long count = Drops.Get(DropReason.HopLimitExceeded);
                LogHopLimitExceeded(_logger, from.Peer.Value, next.Peer.Value, count);
            }

            Span<byte> local = stackalloc byte[16];
            Answer(from, buffer, IcmpUnreachable.WriteTimeExceeded(packet, buffer.AsSpan(DatagramLayout.PayloadOffset), LocalAddress(binding, packet, local)));
            return;
        }

        // The next link's path may be smaller than the one the packet came over: tell the source, as the interface path does.
        int limit = next.SendLimit;
        if (packet.Length > limit && !((packet[0] >> 4) == 6 && packet.Length <= Ipv6MinimumMtu))
        {
            Span<byte> local = stackalloc byte[16];
            int answer = IcmpUnreachable.WriteTooBig(packet, limit, buffer.AsSpan(DatagramLayout.PayloadOffset), LocalAddress(binding, packet, local));
            if (answer > 0)
            {
                next.CountDrop(DropReason.PathMtuExceeded);
                Answer(from, buffer, answer);
                return;
            }
        }

        // A SYN crossing this hop learns the next link's path too (the ends clamp to their own links only).
        MssClamp.Apply(packet, next.EffectiveMtu);
        HopLimit.Decrement(packet);
        next.NotePacketSize(packet.Length);
        if (next.SendPayload(buffer, packet, ContentKind.Packet, stageWithoutSession: true))
        {
            next.CountForwarded(packet.Length);
        }
    }

    /// <summary>A packet or frame that the routes would send straight back where it came from: counted, and logged now and then.</summary>
    private void CountForwardLoop(TincanLink from)
    {
        from.CountDrop(DropReason.ForwardLoop);
        if (Drops.ShouldLog(DropReason.ForwardLoop))
        {
            long count = Drops.Get(DropReason.ForwardLoop);
            LogForwardLoop(_logger, from.Peer.Value, count);
        }
    }

    /// <summary>Receive thread, inside <paramref name="binding"/>: the router dropped a packet from <paramref name="link"/>.</summary>
    private void RefuseInbound(InterfaceBinding binding, TincanLink link, InboundDropReason reason, Span<byte> packet)
    {
        bool tap = binding.Nic.Mode == VirtualInterfaceMode.Tap;
        switch (reason)
        {
            case InboundDropReason.Spoofed:
                // The packet authenticated as this peer's, so the router refused what it claims to come from.
                link.CountDrop(tap ? DropReason.SpoofedMac : DropReason.SpoofedSource);
                if (Drops.ShouldLog(DropReason.SpoofedSource))
                {
                    LogSpoofed(_logger, link.Peer.Value, tap ? "MAC" : "address", link.DroppedSpoofedCount);
                }

                break;
            case InboundDropReason.Unreachable when !tap:
                link.CountDrop(DropReason.NoRoute);
                byte[] buffer = ForwardBuffer;
                Span<byte> local = stackalloc byte[16];
                Answer(link, buffer, IcmpUnreachable.Write(packet, buffer.AsSpan(DatagramLayout.PayloadOffset), LocalAddress(binding, packet, local)));
                break;
            default:
                link.CountDrop(DropReason.NoRoute);
                break;
        }
    }

    /// <summary>Sends the ICMP answer at <c>buffer[PayloadOffset..]</c> back over <paramref name="link"/>, within the rate limit.</summary>
    private void Answer(TincanLink link, byte[] buffer, int length)
    {
        if (length > 0 && (_forwardingAnswers ??= new PerSecondBudget(Time, ForwardingAnswersPerSecond)).TryTake())
        {
            link.SendPayload(buffer, buffer.AsSpan(DatagramLayout.PayloadOffset, length), ContentKind.Packet);
        }
    }

    /// <summary>This node's address of the packet's IP version, for the source of an answer; empty when the router does not know it.</summary>
    private static ReadOnlySpan<byte> LocalAddress(InterfaceBinding binding, ReadOnlySpan<byte> packet, Span<byte> scratch)
    {
        int version = packet[0] >> 4;
        return binding.Router is RouteTable table && table.TryGetLocalAddress(version, scratch) ? scratch[..(version == 4 ? 4 : 16)] : default;
    }

    [LoggerMessage(EventId = 1600, Level = LogLevel.Warning, Message = "Dropped packets from {Peer} that the routes would send straight back to it (a routing loop between the two nodes; {Count} so far)")]
    private static partial void LogForwardLoop(ILogger logger, string peer, long count);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Dropped a packet from {Peer} for {Next} whose hop limit ran out (a routing loop, or a traceroute; {Count} so far)")]
    private static partial void LogHopLimitExceeded(ILogger logger, string peer, string next, long count);
}
