using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Mtu;
using Ipop.Tincan.Protocol;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The link's path MTU (issue 13): a <see cref="PathMtuProber"/> driven by the link's existing tick (no timer of its
/// own), probes sealed like any packet on the path in use (so a relayed path is probed through the relay), and the
/// largest inner packet the path carries, published for the packet threads (<see cref="EffectiveMtu"/>).
/// </summary>
internal sealed partial class TincanLink
{
    // Control loop only.
    private PathMtuProber? _pathMtu;
    private ILinkPath? _pathMtuPath;
    private int _pathMtuOverhead;
    private long _pathMtuLoggedSearch = -1;
    private int _pathMtuLoggedBlackHoles;
    private PathMtuState _pathMtuLoggedState;

    // Published for the packet threads: the largest inner packet (0: no path measured yet), and what counts as full size.
    private int _effectiveMtu;
    private int _sendLimit;
    private int _fullSizeThreshold = int.MaxValue;

    // Set by the NIC thread when a packet above the base size went out; the tick clears it.
    private int _fullSizeSent;

    // When the prober is due if full-size traffic flows (published by the loop for NotePacketSize).
    private long _pathMtuDueWithTraffic = long.MaxValue;

    // Acknowledgments from the receive thread (the only writer) to the loop (the only reader), packed as round id and
    // size, so an acknowledgment costs no allocation; one drain step at a time is posted (a cached delegate).
    private const int AckRingSize = 16;
    private readonly long[] _ackRing = new long[AckRingSize];
    private int _ackWritten;
    private int _ackRead;
    private int _ackDrainPosted;
    private Action? _drainAcks;

    /// <summary>
    /// The largest inner packet (IP packet on TUN, Ethernet frame on TAP) the path in use carries. Before a path was
    /// measured, the smallest base of any path, so nothing sent early is too large for the path found later.
    /// </summary>
    internal int EffectiveMtu
    {
        get
        {
            int mtu = Volatile.Read(ref _effectiveMtu);
            return mtu != 0 ? mtu : _manager.UnmeasuredMtu;
        }
    }

    /// <summary>
    /// The largest inner packet sent rather than answered with "too big": <see cref="EffectiveMtu"/>, except while the
    /// first probes on a path are out (see <see cref="PathMtuProber.Limit"/>) and before any path was measured.
    /// </summary>
    internal int SendLimit
    {
        get
        {
            int limit = Volatile.Read(ref _sendLimit);
            return limit != 0 ? limit : _manager.MaxPayload;
        }
    }

    /// <summary>The prober, for tests and diagnostics (control loop only).</summary>
    internal PathMtuProber? PathMtuProber => _pathMtu;

    /// <summary>NIC thread: a packet of <paramref name="length"/> bytes is about to go out (a plain read, almost always).</summary>
    internal void NotePacketSize(int length)
    {
        if (length > _fullSizeThreshold && _fullSizeSent == 0)
        {
            // The first full-size packet since the last wakeup: a confirmation or raise may now be due before the armed
            // time (an idle link's prober is never due). A full fence, as for the activity times (DeadlineTimer).
            Interlocked.Exchange(ref _fullSizeSent, 1);
            _manager.Deadlines.WakeBy(Volatile.Read(ref _pathMtuDueWithTraffic));
        }
    }

    /// <summary>Control loop, from the link's tick: follows the path in use and sends the probes due.</summary>
    internal void TickPathMtu(long now)
    {
        ILinkPath? path = _current is null ? null : _path;
        if (_closed || path is null)
        {
            return;
        }

        PathMtuProber prober = _pathMtu ??= new PathMtuProber(_manager.PathMtu);
        if (!ReferenceEquals(path, _pathMtuPath))
        {
            // Another path (direct to relayed, a new direct path): its MTU and overhead are its own.
            _pathMtuPath = path;
            _pathMtuOverhead = PathOverhead(path, out int baseUnderlay);
            prober.Reset(now, baseUnderlay - _pathMtuOverhead, _manager.MaxPayload);
            Volatile.Write(ref _fullSizeThreshold, prober.Base);
        }

        if (Interlocked.Exchange(ref _fullSizeSent, 0) != 0)
        {
            prober.OnFullSizeTraffic();
        }

        Span<int> sizes = stackalloc int[_manager.PathMtu.ProbesPerRound];
        int count = prober.Tick(now, sizes);
        if (count > 0)
        {
            SendPathMtuProbes(path, sizes[..count], prober.RoundId);
        }

        PublishPathMtu(prober);
    }

    /// <summary>Receive thread: the peer probes its path to us; the small answer goes back on the path in use.</summary>
    internal void OnPathMtuProbe(ReadOnlySpan<byte> payload)
    {
        ILinkPath? path = Snapshot?.Path;
        if (!ProbeMessage.TryReadProbe(payload, out uint roundId) || path is null)
        {
            CountDrop(path is null ? DropReason.NoSession : DropReason.Malformed);
            return;
        }

        Span<byte> buffer = stackalloc byte[PayloadOffset + ProbeMessage.HeaderLength + TransportCipher.TagLength];
        Span<byte> ack = buffer.Slice(PayloadOffset, ProbeMessage.HeaderLength);
        ProbeMessage.WriteAck(ack, roundId, payload.Length);

        // Sent "via" the path in use: like a probe, it is not traffic that keepalives or dead-peer detection count.
        SendPayload(buffer, ack, ContentKind.ProbeAck, via: path);
    }

    /// <summary>Receive thread: an acknowledgment of one of our probes; the prober lives on the control loop.</summary>
    internal void OnPathMtuProbeAck(ReadOnlySpan<byte> payload)
    {
        if (!ProbeMessage.TryReadAck(payload, out uint roundId, out int size))
        {
            CountDrop(DropReason.Malformed);
            return;
        }

        // Single producer: a full ring (the loop fell 16 behind) loses the acknowledgment, which counts as a lost probe.
        int written = _ackWritten;
        if (written - Volatile.Read(ref _ackRead) < AckRingSize)
        {
            _ackRing[written & (AckRingSize - 1)] = ((long)roundId << 16) | (ushort)size;
            Volatile.Write(ref _ackWritten, written + 1);
        }

        if (Interlocked.Exchange(ref _ackDrainPosted, 1) == 0)
        {
            _manager.Control.Post(_drainAcks ??= DrainProbeAcks);
        }
    }

    // Control loop: feeds the acknowledgments received so far to the prober.
    private void DrainProbeAcks()
    {
        Volatile.Write(ref _ackDrainPosted, 0);
        int written = Volatile.Read(ref _ackWritten);
        bool roundEnded = false;
        long now = _manager.Time.GetTimestamp();
        for (int read = _ackRead; read != written; read++)
        {
            long packed = _ackRing[read & (AckRingSize - 1)];
            Volatile.Write(ref _ackRead, read + 1);
            if (!_closed && _pathMtu is { } prober)
            {
                roundEnded |= prober.OnAck(now, (uint)(packed >> 16), (int)(packed & 0xFFFF));
            }
        }

        if (_closed || _pathMtu is not { } current)
        {
            return;
        }

        if (roundEnded)
        {
            // The round is complete: the next one goes out now rather than at the next tick.
            TickPathMtu(now);
        }
        else
        {
            PublishPathMtu(current);
        }
    }

    // Control loop: the probes of one round, sealed on the path measured and not counted as traffic.
    private void SendPathMtuProbes(ILinkPath path, ReadOnlySpan<int> sizes, uint roundId)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(PayloadOffset + _manager.MaxPayload + TransportCipher.TagLength);
        try
        {
            foreach (int size in sizes)
            {
                Span<byte> payload = buffer.AsSpan(PayloadOffset, size);
                ProbeMessage.WriteProbe(payload, roundId);
                SendPayload(buffer, payload, ContentKind.Probe, via: path);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void PublishPathMtu(PathMtuProber prober)
    {
        Volatile.Write(ref _effectiveMtu, prober.Current);
        Volatile.Write(ref _sendLimit, prober.Limit);
        if (prober.BlackHoles != _pathMtuLoggedBlackHoles)
        {
            _pathMtuLoggedBlackHoles = prober.BlackHoles;
            _manager.LogPathMtuBlackHole(this, prober.Base + _pathMtuOverhead);
        }

        if (prober.State == PathMtuState.SearchComplete && prober.LastSearchTicks != _pathMtuLoggedSearch)
        {
            _pathMtuLoggedSearch = prober.LastSearchTicks;
            _manager.LogPathMtuFound(this, prober.Current + _pathMtuOverhead, prober.Current, _pathMtuPath, prober.LastSearchTicks);
        }
        else if (prober.State == PathMtuState.Error && _pathMtuLoggedState != PathMtuState.Error)
        {
            _manager.LogPathMtuUnanswered(this, prober.Base + _pathMtuOverhead, prober.Current);
        }

        _pathMtuLoggedState = prober.State;
    }

    /// <summary>
    /// Bytes a path adds around an inner packet: underlay IP and UDP headers, the transport header and AEAD tag, and a
    /// relayed path's ChannelData header; <paramref name="baseUnderlay"/> is the RFC 8899 base for its IP version.
    /// </summary>
    internal static int PathOverhead(ILinkPath path, out int baseUnderlay)
    {
        IPEndPoint? endPoint = path is RelayedPath relayed ? UdpMux.ToEndPoint(relayed.ServerAddress) : path.RemoteEndPoint;
        bool ipv6 = endPoint is { AddressFamily: AddressFamily.InterNetworkV6 } && !endPoint.Address.IsIPv4MappedToIPv6;
        baseUnderlay = ipv6 ? PathMtuSettings.BaseIpv6 : PathMtuSettings.BaseIpv4;
        return (ipv6 ? 40 : 20) + 8 + TransportHeader.Length + TransportCipher.TagLength + (path is RelayedPath ? ChannelData.HeaderLength : 0);
    }
}
