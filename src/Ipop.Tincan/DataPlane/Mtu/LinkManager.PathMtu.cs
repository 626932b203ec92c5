using Ipop.Tincan.DataPlane.Mtu;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>The node's side of path MTU discovery: its settings, and the log lines of its links' probers.</summary>
internal sealed partial class LinkManager
{
    /// <summary>Underlay bytes around an inner packet on the worst path: IPv4, UDP, transport header, tag, ChannelData.</summary>
    private const int WorstOverhead = 20 + 8 + Protocol.TransportHeader.Length + Crypto.TransportCipher.TagLength + Turn.ChannelData.HeaderLength;

    /// <summary>"Too big" answers the NIC thread writes per second, at most (RFC 4443 section 2.4 (f): rate-limit errors).</summary>
    private const int TooBigAnswersPerSecond = 100;

    /// <summary>Every IPv6 link carries this (RFC 8200 section 5): smaller paths cannot be advertised, so such packets go as they are.</summary>
    private const int Ipv6MinimumMtu = 1280;

    private PathMtuSettings? _pathMtu;

    // NIC thread only.
    private PerSecondBudget? _tooBigBudget;

    /// <summary>The DPLPMTUD constants every link of this node uses.</summary>
    internal PathMtuSettings PathMtu => _pathMtu ??= PathMtuSettings.From(_options, Time.TimestampFrequency);

    /// <summary>
    /// The largest inner packet of a link whose path was not measured yet: the whole payload when probing is off,
    /// else what the IPv4 base carries on a relayed path (the smallest of the bases).
    /// </summary>
    internal int UnmeasuredMtu => PathMtu.Enabled ? Math.Min(MaxPayload, PathMtuSettings.BaseIpv4 - WorstOverhead) : MaxPayload;

    /// <summary>
    /// NIC thread, before a packet from the interface is sealed for <paramref name="link"/>: clamps a TCP SYN's MSS to
    /// the link's path, and answers an IP packet too large for it with "fragmentation needed" / "packet too big"
    /// (written to the interface from <paramref name="scratch"/>, rate-limited) instead of sending it into a path
    /// that would drop it silently.
    /// </summary>
    /// <returns><c>true</c> to send the packet.</returns>
    /// <remarks>
    /// Packets sent although too large: an IPv4 packet without DF (the underlay may fragment the datagram, or drop
    /// it: the sender allowed fragmentation and gets what an IPv4 network gives it), an IPv6 packet of at most 1280
    /// bytes (no smaller MTU may be advertised), and in TAP mode a frame for a group address or a VLAN-tagged frame
    /// (see <see cref="AnswerTooBig"/>). TSO super-packets arrive here already cut into segments by the TUN reader; a
    /// segment too large is answered like any packet, so the sender's TCP lowers its MSS (the SYN clamp makes this
    /// rare: only connections opened before the path got smaller).
    /// </remarks>
    internal bool FitOutbound(VirtualInterfaceMode mode, IVirtualInterface nic, TincanLink link, Span<byte> packet, Span<byte> scratch)
    {
        int mtu = link.EffectiveMtu;
        int l3 = mode == VirtualInterfaceMode.Tap ? EthernetPayloadOffset(packet) : 0;
        if (l3 >= 0)
        {
            MssClamp.Apply(packet[l3..], mtu - l3);
        }

        if (AnswerTooBig(nic, link, packet, l3, link.SendLimit, scratch))
        {
            return false;
        }

        link.NotePacketSize(packet.Length);
        return true;
    }

    /// <summary>
    /// NIC thread: when <paramref name="packet"/> (an IP packet, <paramref name="l3"/> 0; or an Ethernet frame whose IP
    /// packet starts at <paramref name="l3"/>, 14; -1 for a frame without IP) is larger than <paramref name="limit"/>
    /// bytes, answers it on the interface from <paramref name="scratch"/> (rate-limited) and counts it on
    /// <paramref name="link"/> as <see cref="DropReason.PathMtuExceeded"/>.
    /// </summary>
    /// <returns><c>true</c> when the packet was answered (counted as dropped; whether the answer was written is up to the
    /// rate limit), <c>false</c> to send it as it is.</returns>
    /// <remarks>
    /// In TAP mode the answer is an Ethernet frame back to the sender from the station it sent to (see
    /// <see cref="IcmpUnreachable.WriteTooBigFrame"/>), naming the IP bytes that fit: <paramref name="limit"/> minus the
    /// Ethernet header. A bridge has no address of its own to answer from, but it need not have one: Linux accepts a
    /// "fragmentation needed" / "packet too big" from any source when the quoted header matches one of its sockets, and
    /// the answer comes from the packet's destination, whose MAC the sender's neighbour table already holds. Frames for
    /// a group address (a flood: which copy would be too big is not known) and VLAN-tagged frames are sent as they are.
    /// </remarks>
    private bool AnswerTooBig(IVirtualInterface nic, TincanLink link, ReadOnlySpan<byte> packet, int l3, int limit, Span<byte> scratch)
    {
        if (packet.Length <= limit || l3 < 0 || ((packet[l3] >> 4) == 6 && packet.Length - l3 <= Ipv6MinimumMtu))
        {
            return false;
        }

        int answer = l3 == 0
            ? IcmpUnreachable.WriteTooBig(packet, limit, scratch)
            : IcmpUnreachable.WriteTooBigFrame(packet, limit - l3, scratch);
        if (answer == 0)
        {
            return false;
        }

        link.CountDrop(DropReason.PathMtuExceeded);
        if ((_tooBigBudget ??= new PerSecondBudget(Time, TooBigAnswersPerSecond)).TryTake() && !nic.Write(scratch[..answer]))
        {
            Drops.Add(DropReason.InterfaceWriteFailed);
        }

        return true;
    }

    /// <summary>
    /// NIC thread, before a frame from the interface goes to <paramref name="link"/> as a forwarded frame (behind the
    /// 12-byte shim): clamps a TCP SYN's MSS to the link's path minus the shim, and answers a frame too large for it as
    /// <see cref="FitOutbound"/> does.
    /// </summary>
    /// <returns><c>true</c> to send the frame.</returns>
    internal bool FitForwardedFrame(IVirtualInterface nic, TincanLink link, Span<byte> frame, Span<byte> scratch)
    {
        int l3 = EthernetPayloadOffset(frame);
        if (l3 >= 0)
        {
            MssClamp.Apply(frame[l3..], link.EffectiveMtu - ForwardedFrameHeader.Length - l3);
        }

        return !AnswerTooBig(nic, link, frame, l3, ForwardedFrameLimit(link), scratch);
    }

    /// <summary>
    /// The largest frame a forwarded frame to <paramref name="link"/> may carry. The shim is allowed for on top of the
    /// full payload (docs/routing.md, "MTU"): a link whose path carries the full payload (or was not measured) takes any
    /// frame; only a path measured below it leaves its size minus the shim for the frame.
    /// </summary>
    internal int ForwardedFrameLimit(TincanLink link)
    {
        int limit = link.SendLimit;
        return limit >= MaxPayload ? MaxPayload : limit - ForwardedFrameHeader.Length;
    }

    /// <summary>Receive thread: clamps the MSS of a SYN or SYN-ACK from <paramref name="link"/> to the link's path.</summary>
    internal static void ClampInbound(VirtualInterfaceMode mode, TincanLink link, Span<byte> packet)
    {
        int l3 = mode == VirtualInterfaceMode.Tap ? EthernetPayloadOffset(packet) : 0;
        if (l3 >= 0)
        {
            MssClamp.Apply(packet[l3..], link.EffectiveMtu - l3);
        }
    }

    /// <summary>Where the IP packet of an untagged Ethernet frame starts (14), or -1 when it carries no IPv4/IPv6.</summary>
    internal static int EthernetPayloadOffset(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14 + 20)
        {
            return -1;
        }

        ushort etherType = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        return etherType is 0x0800 or 0x86DD ? 14 : -1;
    }

    internal void LogPathMtuFound(TincanLink link, int underlay, int inner, ILinkPath? path, long ticks)
    {
        long milliseconds = (long)(ticks * 1000.0 / Time.TimestampFrequency);
        LogPathMtu(_logger, link.Peer.Value, underlay, path?.Kind, inner, milliseconds);
    }

    internal void LogPathMtuBlackHole(TincanLink link, int baseUnderlay) => LogBlackHole(_logger, link.Peer.Value, baseUnderlay);

    internal void LogPathMtuUnanswered(TincanLink link, int baseUnderlay, int inner) => LogProbesUnanswered(_logger, link.Peer.Value, baseUnderlay, inner);

    [LoggerMessage(EventId = 70, Level = LogLevel.Information, Message = "Link {Peer}: path MTU {Underlay} bytes on the underlay ({Path}), so inner packets up to {Inner} bytes cross it (found in {Milliseconds} ms)")]
    private static partial void LogPathMtu(ILogger logger, string peer, int underlay, LinkPath? path, int inner, long milliseconds);

    [LoggerMessage(EventId = 71, Level = LogLevel.Warning, Message = "Link {Peer}: path MTU probes of the size in use stopped getting through (a black hole); back to {Base} bytes and searching again")]
    private static partial void LogBlackHole(ILogger logger, string peer, int @base);

    [LoggerMessage(EventId = 72, Level = LogLevel.Information, Message = "Link {Peer}: no answer to path MTU probes, not even of the base size {Base} (an older peer, or a lossy path); inner packets limited to {Inner} bytes")]
    private static partial void LogProbesUnanswered(ILogger logger, string peer, int @base, int inner);
}
