using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Udp;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>The interface path: a dedicated thread reads the NIC, routes, seals and sends.</summary>
/// <remarks>
/// Detaching must give the caller a NIC nobody touches any more. Two threads use it: the NIC thread (reads, and
/// writes ICMP answers), which detach cancels and waits for; and the receive thread (router, writes), which marks
/// itself inside a binding with an interlocked counter and re-checks the binding after that full fence, so a
/// detach that cleared the binding either sees the counter and waits, or the receive thread sees the cleared
/// binding and drops the packet (Dekker-style; both sides order their write before their read with a full fence).
/// </remarks>
internal sealed partial class LinkManager
{
    /// <summary>How long <see cref="DisposeAsync"/> waits for the NIC thread before it gives up on it.</summary>
    private static readonly TimeSpan DisposeNicWait = TimeSpan.FromSeconds(2);

    /// <summary>Read lock-free by the receive and NIC paths; written under <see cref="_tableLock"/>.</summary>
    private InterfaceBinding? _binding;

    /// <summary>Completes when the last detached binding is no longer used; guarded by <see cref="_tableLock"/>.</summary>
    private Task _lastRelease = Task.CompletedTask;

    /// <summary>Packets the NIC thread reads, seals and sends per batch (a 64 KiB TSO super-packet is about 46).</summary>
    private const int NicBatchSize = 128;

    /// <summary>Receive thread only: decrypted packets waiting for the end of the receive batch, and their binding.</summary>
    private readonly PacketBatch _deliveries = new(256);
    private InterfaceBinding? _deliveryBinding;

    /// <summary>Tests only: runs on the receive thread between reading the binding and entering it (the race detach must survive).</summary>
    internal Action? BeforeDeliveryEnterForTests { get; set; }

    public void AttachInterface(IVirtualInterface nic, IPacketRouter router)
    {
        ArgumentNullException.ThrowIfNull(nic);
        ArgumentNullException.ThrowIfNull(router);
        ThrowIfDisposed();
        lock (_tableLock)
        {
            ThrowIfDisposed();
            if (_mux is null)
            {
                // Refused here rather than accepted half-way: the NIC thread would read and route into a node with no
                // socket, and the mistake would show only later, on the data path or at dispose.
                throw new InvalidOperationException(
                    $"Call ITincan.StartAsync before AttachInterface (interface '{nic.Name}'): the node has no socket yet to send the interface's packets on.");
            }

            if (nic.Mtu > _options.Mtu)
            {
                // Larger packets would be dropped as oversize without a word to the sender (no ICMP for them), and TCP
                // picks its segment size from the interface's MTU: connections would stall on their first full segment.
                throw new InvalidOperationException(
                    $"Interface '{nic.Name}' has MTU {nic.Mtu}, more than the {_options.Mtu} its links carry (Tincan:Mtu): larger packets would be dropped. " +
                    $"Give the interface an MTU of at most {_options.Mtu} (VirtualInterfaceOptions.Mtu) or raise Tincan:Mtu; both default to {VirtualInterfaceOptions.DefaultMtu}.");
            }

            if (_binding is { } attached)
            {
                throw new InvalidOperationException($"Interface '{attached.Nic.Name}' is already attached; one interface at a time (DetachInterfaceAsync first).");
            }

            var binding = new InterfaceBinding(nic, router);
            RememberOverlayInterface(nic.Name);
            new Thread(() => NicLoop(binding)) { IsBackground = true, Name = "ipop-tincan-nic" }.Start();
            Volatile.Write(ref _binding, binding);
        }

        LogAttached(_logger, nic.Name);
    }

    public async ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken)
    {
        Task release = BeginDetach(out InterfaceBinding? detached);
        await release.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (detached is not null)
        {
            LogDetached(_logger, detached.Nic.Name);
        }

        return detached is not null;
    }

    /// <summary>Clears the binding at once and returns a task that completes when nothing uses it any more.</summary>
    private Task BeginDetach(out InterfaceBinding? detached)
    {
        Task release;
        lock (_tableLock)
        {
            // The exchange is a full fence: see the type's remarks.
            detached = Interlocked.Exchange(ref _binding, null);
            if (detached is not null)
            {
                _lastRelease = WaitUntilReleasedAsync(detached, _lastRelease);
            }

            release = _lastRelease;
        }

        // Outside the lock: cancelling runs the NIC's registered callbacks synchronously. The release task may
        // already have completed and disposed the token source (the NIC loop ends by itself when the NIC was
        // disposed before the detach, which is how hosts used to shut down), so the binding guards it.
        detached?.StopReading();
        return release;
    }

    private async Task StopInterfaceAsync()
    {
        Task release = BeginDetach(out InterfaceBinding? detached);
        try
        {
            await release.WaitAsync(DisposeNicWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A NIC that ignores cancellation must not hang shutdown; its thread is a background thread.
            LogNicDidNotStop(_logger, detached?.Nic.Name ?? "?", DisposeNicWait.TotalSeconds);
        }
    }

    private static async Task WaitUntilReleasedAsync(InterfaceBinding binding, Task previous)
    {
        await previous.ConfigureAwait(false);
        await binding.LoopEnded.Task.ConfigureAwait(false);

        // A write into the NIC on the receive thread takes microseconds; polling is simpler than a signal
        // the hot path would have to raise.
        while (binding.InFlight != 0)
        {
            await Task.Delay(1).ConfigureAwait(false);
        }

        binding.Dispose();
    }

    // Receive thread. A packet whose memory stays valid until the receive batch ends (batchable is not empty) joins
    // the pending write batch, written with one call when the batch ends; otherwise it is written at once.
    private void DeliverToInterface(TincanLink link, Span<byte> packet, Memory<byte> batchable)
    {
        InterfaceBinding? binding = Volatile.Read(ref _binding);
        if (binding is null)
        {
            Drops.Add(DropReason.NoInterface);
            return;
        }

        BeforeDeliveryEnterForTests?.Invoke();
        binding.Enter();
        try
        {
            // Re-read after Enter's full fence: a detach that cleared the binding before Enter may already have
            // seen no delivery in flight and returned to a caller that now disposes the NIC.
            if (!ReferenceEquals(Volatile.Read(ref _binding), binding))
            {
                Drops.Add(DropReason.NoInterface);
                return;
            }

            InboundDecision decision = binding.Router.RouteInbound(link, packet);
            if (decision.Action != InboundAction.Deliver)
            {
                // Overlay forwarding and refusals: Forwarding/LinkManager.Forwarding.cs.
                if (decision.Action == InboundAction.Forward)
                {
                    ForwardPacket(binding, link, decision.Link, packet);
                }
                else
                {
                    RefuseInbound(binding, link, decision.Reason, packet);
                }

                return;
            }

            WriteInbound(binding, link, packet, batchable);
        }
        finally
        {
            binding.Exit();
        }
    }

    // Receive thread, inside `binding` (the caller entered it): writes a packet the router let in to the interface.
    private void WriteInbound(InterfaceBinding binding, TincanLink link, Span<byte> packet, Memory<byte> batchable)
    {
        // The other direction of the MSS clamp: what our side's TCP may send to the peer fits the path.
        ClampInbound(binding.Nic.Mode, link, packet);

        if (!batchable.IsEmpty)
        {
            if (!ReferenceEquals(_deliveryBinding, binding) || _deliveries.IsFull)
            {
                WriteDeliveries();
            }

            _deliveryBinding = binding;
            _deliveries.Add(batchable);
            return;
        }

        if (!binding.Nic.Write(packet))
        {
            Drops.Add(DropReason.InterfaceWriteFailed);
        }
    }

    /// <summary>Receive thread, at the end of a receive batch: writes the pending packets to the interface.</summary>
    internal void FlushDeliveries()
    {
        InterfaceBinding? binding = _deliveryBinding;
        if (binding is null || _deliveries.Count == 0)
        {
            return;
        }

        binding.Enter();
        try
        {
            WriteDeliveries();
        }
        finally
        {
            binding.Exit();
        }
    }

    // Inside the pending batch's binding (the caller entered it).
    private void WriteDeliveries()
    {
        InterfaceBinding? binding = _deliveryBinding;
        int count = _deliveries.Count;
        if (binding is null || count == 0)
        {
            return;
        }

        // A detach between the adds and now: the interface is no longer ours to write.
        bool attached = ReferenceEquals(Volatile.Read(ref _binding), binding);
        int written = attached ? binding.Nic.WriteBatch(_deliveries) : 0;
        if (written < count)
        {
            Drops.Add(attached ? DropReason.InterfaceWriteFailed : DropReason.NoInterface, count - written);
        }

        _deliveries.Clear();
        _deliveryBinding = null;
    }

    private void NicLoop(InterfaceBinding binding)
    {
        try
        {
            RunNicLoop(binding, binding.ReadStopping);
        }
        finally
        {
            LogNicLoopEnded(_logger, binding.Nic.Name);
            binding.LoopEnded.TrySetResult();
        }
    }

    private void RunNicLoop(InterfaceBinding binding, CancellationToken cancellationToken)
    {
        // One pinned slab of NicBatchSize slots, each laid out as [headroom 4][header 16][packet ...][tag 16]. The NIC
        // reads packets straight into the packet slots (a TSO super-packet arrives split, one segment per slot), each
        // is sealed in place and queued, and the whole batch leaves in one call (sendmmsg, or GSO trains). A flood
        // seals from its slot into a second buffer per link and goes out at once.
        // One byte past the largest payload so an oversize read shows as such instead of fitting exactly; slots
        // rounded to cache lines.
        int slotSize = (DatagramLayout.BufferSize(Math.Max(MaxPayload, binding.Nic.Mtu + FrameAllowance) + 1) + 63) & ~63;
        byte[] slab = GC.AllocateUninitializedArray<byte>(slotSize * NicBatchSize, pinned: true);
        // The flood buffer also seals forwarded frames: a full-size frame plus its shim (Forwarding/LinkManager.FrameForwarding.cs).
        byte[] floodBuffer = GC.AllocateUninitializedArray<byte>(Math.Max(slotSize, DatagramLayout.BufferSize(MaxPayload + ForwardedFrameHeader.Length)), pinned: true);
        int readable = slotSize - DatagramLayout.PayloadOffset - DatagramLayout.TagLength;
        var reads = new PacketBatch(NicBatchSize);
        var sends = new DatagramBatch(NicBatchSize);
        int consecutiveErrors = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            reads.Clear();
            for (int i = 0; i < NicBatchSize; i++)
            {
                reads.Add(slab.AsMemory((i * slotSize) + TincanLink.PayloadOffset, readable));
            }

            int count;
            try
            {
                count = binding.Nic.ReadBatch(reads, cancellationToken);
                consecutiveErrors = 0;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
#pragma warning disable CA1031 // A transient read error must not end the data path; repeated ones are logged.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogNicReadFailed(_logger, binding.Nic.Name, e);
                if (++consecutiveErrors > 100)
                {
                    break;
                }

                Thread.Sleep(10);
                continue;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                // Read after a detach began: the interface is no longer ours to route.
                break;
            }

            for (int i = 0; i < count; i++)
            {
                RouteOne(binding, slab.AsMemory(i * slotSize, slotSize), reads[i].Length, sends, floodBuffer);
            }

            SendQueued(sends);
        }
    }

    /// <summary>Routes one packet read into <paramref name="slot"/> (at <see cref="TincanLink.PayloadOffset"/>).</summary>
    private void RouteOne(InterfaceBinding binding, Memory<byte> slot, int length, DatagramBatch sends, byte[] floodBuffer)
    {
        if (length <= 0)
        {
            return;
        }

        if (length > MaxPayload)
        {
            Drops.Add(DropReason.Oversize);
            return;
        }

        if (binding.Router is LearningSwitch structured && binding.Nic.Mode == VirtualInterfaceMode.Tap && structured.TryGetRingPosition(out ulong self))
        {
            // A structured overlay: frames cross members (Forwarding/LinkManager.FrameForwarding.cs).
            RouteFrame(binding, structured, self, slot, length, sends, floodBuffer);
            return;
        }

        Span<byte> packet = slot.Span.Slice(TincanLink.PayloadOffset, length);
        RouteDecision decision = binding.Router.RouteOutbound(packet);
        switch (decision.Action)
        {
            case RouteAction.Unicast when decision.Link is TincanLink link && ReferenceEquals(link.Manager, this):
                // Path MTU (issue 13): clamp a SYN's MSS; a packet too large for this link's path is answered, not sent.
                if (FitOutbound(binding.Nic.Mode, binding.Nic, link, packet, floodBuffer))
                {
                    link.QueuePacket(slot, length, sends);
                }

                break;
            case RouteAction.Flood:
                // Rare (broadcast, unknown unicast): keep order with what is queued, then one datagram per link.
                SendQueued(sends);
                foreach (TincanLink link in _snapshot)
                {
                    if (link.IsConnected)
                    {
                        link.SendPayload(floodBuffer, packet, ContentKind.Packet);
                    }
                }

                break;
            case RouteAction.Unreachable:
                // Tell the sender at once instead of letting it time out. Only IP packets (TUN) can be answered;
                // the flood buffer is idle here, so the answer costs no allocation.
                Drops.Add(DropReason.NoRoute);
                int answer = binding.Nic.Mode == VirtualInterfaceMode.Tun ? IcmpUnreachable.Write(packet, floodBuffer) : 0;
                if (answer > 0 && !binding.Nic.Write(floodBuffer.AsSpan(0, answer)))
                {
                    Drops.Add(DropReason.InterfaceWriteFailed);
                }

                break;
            default:
                Drops.Add(DropReason.NoRoute);
                break;
        }
    }

    private void SendQueued(DatagramBatch sends)
    {
        if (sends.Count == 0)
        {
            return;
        }

        if (Mux is { } mux)
        {
            mux.Send(sends);
        }
        else
        {
            Drops.Add(DropReason.SendFailed);
            sends.Clear();
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Reading from interface {Nic} failed")]
    private static partial void LogNicReadFailed(ILogger logger, string nic, Exception exception);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Stopped reading from interface {Nic}")]
    private static partial void LogNicLoopEnded(ILogger logger, string nic);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Attached interface {Nic}")]
    private static partial void LogAttached(ILogger logger, string nic);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "Detached interface {Nic}; packets from links are dropped until an interface is attached")]
    private static partial void LogDetached(ILogger logger, string nic);

    [LoggerMessage(EventId = 25, Level = LogLevel.Warning, Message = "Dropped packets from {Peer} with a source {What} it does not own ({Count} from this peer so far)")]
    private static partial void LogSpoofed(ILogger logger, string peer, string what, long count);

    [LoggerMessage(EventId = 24, Level = LogLevel.Warning, Message = "Interface {Nic} did not return from a read within {Seconds} s of shutdown; its reader thread is abandoned")]
    private static partial void LogNicDidNotStop(ILogger logger, string nic, double seconds);

    /// <summary>One attachment of a NIC and router: its reader thread, the thread's stop signal and the receive path's users.</summary>
    private sealed class InterfaceBinding : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Lock _stopLock = new();
        private int _inFlight;
        private bool _released;

        public InterfaceBinding(IVirtualInterface nic, IPacketRouter router)
        {
            Nic = nic;
            Router = router;

            // Taken now: a disposed source no longer hands out its token.
            ReadStopping = _stop.Token;
        }

        public IVirtualInterface Nic { get; }

        public IPacketRouter Router { get; }

        /// <summary>Cancelled when a detach begins; the NIC thread's reads watch it.</summary>
        public CancellationToken ReadStopping { get; }

        public TaskCompletionSource LoopEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Receive-path deliveries inside this binding right now.</summary>
        public int InFlight => Volatile.Read(ref _inFlight);

        public void Enter() => Interlocked.Increment(ref _inFlight);

        public void Exit() => Interlocked.Decrement(ref _inFlight);

        /// <summary>
        /// Asks the NIC thread to stop. Safe in any order with <see cref="Dispose"/>: the release can complete first
        /// when the NIC thread already ended by itself (a NIC disposed before the detach, or too many read errors).
        /// </summary>
        public void StopReading()
        {
            lock (_stopLock)
            {
                if (!_released)
                {
                    _stop.Cancel();
                }
            }
        }

        /// <summary>Frees the stop signal once nothing uses the binding any more.</summary>
        public void Dispose()
        {
            lock (_stopLock)
            {
                _released = true;
                _stop.Dispose();
            }
        }
    }
}
