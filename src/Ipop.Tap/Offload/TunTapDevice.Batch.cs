using Ipop.Tap.Offload;
using Microsoft.Extensions.Logging;

namespace Ipop.Tap;

/// <summary>Batched reads and writes, and the segmentation offloads behind them.</summary>
/// <remarks>
/// With offloads on, a read returns one frame with a virtio_net_hdr: often a TCP super-packet of up to 64 KiB that
/// the kernel did not cut (TSO). It is read into <see cref="_readFrame"/> and handed out segment by segment; what
/// does not fit one batch stays there and is handed out first by the next call. Writes go the other way through
/// <see cref="SegmentCoalescer"/> into <see cref="_writeFrame"/>. Readers serialize on <see cref="_readLock"/> and
/// writers on <see cref="_writeLock"/>, so one reader and one writer thread never wait on each other.
/// </remarks>
internal sealed partial class TunTapDevice
{
    private static readonly TimeSpan OffloadDropLogInterval = TimeSpan.FromSeconds(10);

    private readonly SegmentCoalescer _coalescer;
    private readonly byte[]? _readFrame;
    private readonly byte[]? _writeFrame;
    private readonly Lock _readLock = new();
    private readonly Lock _writeLock = new();
    private readonly long[] _offloadDrops = new long[Enum.GetValues<OffloadDropReason>().Length];
    private long _offloadDropsLogged;
    private long _lastOffloadDropLogTimestamp;

    // The frame in _readFrame still being handed out: its plan, its length after the header, the next segment.
    private SegmentationPlan _pending;
    private int _pendingLength;
    private int _pendingNext;
    private long _superPacketsRead;

    /// <summary>What the kernel agreed to at creation.</summary>
    internal OffloadState Offload { get; }

    /// <summary>Super-packets (two or more segments) read and split.</summary>
    internal long SuperPacketsRead => Interlocked.Read(ref _superPacketsRead);

    /// <summary>Super-packets written (each built from two or more packets of a batch).</summary>
    internal long CoalescedWrites
    {
        get
        {
            lock (_writeLock)
            {
                return _coalescer.Coalesced;
            }
        }
    }

    /// <summary>Frames read and dropped for <paramref name="reason"/>.</summary>
    internal long OffloadDrops(OffloadDropReason reason) => Interlocked.Read(ref _offloadDrops[(int)reason]);

    public int ReadBatch(PacketBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        if (batch.Count == 0)
        {
            throw new ArgumentException("The batch holds no buffer to read into; Add at least one.", nameof(batch));
        }

        for (int i = 0; i < batch.Count; i++)
        {
            EnsureBufferFits(batch[i].Length, nameof(batch));
        }

        bool tunAdded = false;
        bool wakeAdded = false;
        try
        {
            AddRef(_tun, ref tunAdded);
            AddRef(_wake, ref wakeAdded);

            // Block for the first packet only; then take what is already queued, so a burst fills the batch.
            int filled = 0;
            while (filled < batch.Count)
            {
                int length = ReadOne(batch[filled].Span, block: filled == 0, cancellationToken);
                if (length < 0)
                {
                    break;
                }

                batch.SetLength(filled, length);
                filled++;
            }

            return filled;
        }
        finally
        {
            if (wakeAdded)
            {
                _wake.DangerousRelease();
            }

            if (tunAdded)
            {
                _tun.DangerousRelease();
            }
        }
    }

    public int WriteBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!Offload.VnetHeader)
        {
            int written = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                if (Write(batch[i].Span))
                {
                    written++;
                }
            }

            return written;
        }

        bool added = false;
        try
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                Drop(0, batch.Count);
                return 0;
            }

            _tun.DangerousAddRef(ref added);
            int accepted = 0;
            lock (_writeLock)
            {
                for (int i = 0; i < batch.Count;)
                {
                    int count = _coalescer.Next(batch, i, _writeFrame, out int length);
                    int errno = length == 0 ? Interop.Errno.EMSGSIZE : WriteRaw([], _writeFrame.AsSpan(0, length));
                    if (errno == 0)
                    {
                        accepted += count;
                    }
                    else
                    {
                        Drop(errno, count);
                    }

                    i += count;
                }
            }

            return accepted;
        }
        catch (ObjectDisposedException)
        {
            Drop(0, batch.Count);
            return 0;
        }
        finally
        {
            if (added)
            {
                _tun.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Hands out the next packet: the next segment of a pending super-packet, or else the next frame from the device
    /// (checked, its checksum finished, split if it is a super-packet). Malformed frames are counted and skipped.
    /// </summary>
    /// <returns>The packet's length in <paramref name="destination"/>, or -1 if <paramref name="block"/> is false and nothing is queued.</returns>
    private int ReadOne(Span<byte> destination, bool block, CancellationToken cancellationToken)
    {
        if (!Offload.VnetHeader)
        {
            return ReadRaw(destination, block, cancellationToken);
        }

        lock (_readLock)
        {
            while (true)
            {
                if (_pendingNext < _pending.SegmentCount)
                {
                    if (_pending.LargestSegment > destination.Length)
                    {
                        // Only if the kernel's gso_size exceeds the MTU the caller sized its buffers for.
                        _pendingNext = _pending.SegmentCount;
                        CountDrop(OffloadDropReason.LargerThanBuffer);
                        continue;
                    }

                    ReadOnlySpan<byte> frame = _readFrame.AsSpan(VirtioNetHeader.Size, _pendingLength);
                    return SuperPacketSplitter.WriteSegment(frame, _pending, _pendingNext++, destination);
                }

                int n = ReadRaw(_readFrame, block, cancellationToken);
                if (n < 0)
                {
                    return -1;
                }

                if (n < VirtioNetHeader.Size)
                {
                    CountDrop(OffloadDropReason.FrameShorterThanVnetHeader);
                    continue;
                }

                var header = VirtioNetHeader.Read(_readFrame);
                int l3Offset = Mode == VirtualInterfaceMode.Tap ? EthernetHeaderLength : 0;
                OffloadDropReason reason = SuperPacketSplitter.Prepare(_readFrame.AsSpan(VirtioNetHeader.Size, n - VirtioNetHeader.Size), header, l3Offset, Offload.Uso, out SegmentationPlan plan);
                if (reason != OffloadDropReason.None)
                {
                    CountDrop(reason);
                    continue;
                }

                _pending = plan;
                _pendingLength = n - VirtioNetHeader.Size;
                _pendingNext = 0;
                if (plan.SegmentCount > 1)
                {
                    Interlocked.Increment(ref _superPacketsRead);
                }
            }
        }
    }

    /// <summary>Counts a dropped frame under its reason and logs a Warning at most every 10 s with the count since the last one.</summary>
    internal void CountDrop(OffloadDropReason reason)
    {
        Interlocked.Increment(ref _offloadDrops[(int)reason]);
        long now = _timeProvider.GetTimestamp();
        long last = Interlocked.Read(ref _lastOffloadDropLogTimestamp);
        if (_timeProvider.GetElapsedTime(last, now) >= OffloadDropLogInterval
            && Interlocked.CompareExchange(ref _lastOffloadDropLogTimestamp, now, last) == last)
        {
            long total = 0;
            for (int i = 0; i < _offloadDrops.Length; i++)
            {
                total += Interlocked.Read(ref _offloadDrops[i]);
            }

            long previous = Interlocked.Exchange(ref _offloadDropsLogged, total);
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                Log.OffloadFrameDropped(_logger, Name, reason, total - previous);
            }
        }
    }
}
