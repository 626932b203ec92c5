using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>The interface path: a dedicated thread reads the NIC, routes, seals and sends.</summary>
internal sealed partial class LinkManager
{
    private InterfaceBinding? _binding;
    private Thread? _nicThread;
    private CancellationTokenSource? _nicCancellation;

    public void AttachInterface(IVirtualInterface nic, IPacketRouter router)
    {
        ArgumentNullException.ThrowIfNull(nic);
        ArgumentNullException.ThrowIfNull(router);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_tableLock)
        {
            if (_binding is not null)
            {
                throw new InvalidOperationException($"Interface '{_binding.Nic.Name}' is already attached; one interface per Tincan.");
            }

            var binding = new InterfaceBinding(nic, router);
            _nicCancellation = new CancellationTokenSource();
            Volatile.Write(ref _binding, binding);
            CancellationToken token = _nicCancellation.Token;
            _nicThread = new Thread(() => NicLoop(binding, token)) { IsBackground = true, Name = "ipop-tincan-nic" };
            _nicThread.Start();
        }
    }

    private void StopInterface()
    {
        Thread? thread;
        lock (_tableLock)
        {
            _nicCancellation?.Cancel();
            thread = _nicThread;
            Volatile.Write(ref _binding, null);
        }

        if (thread is not null && thread != Thread.CurrentThread)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }

        _nicCancellation?.Dispose();
    }

    // Receive thread.
    private void DeliverToInterface(TincanLink link, Span<byte> packet)
    {
        InterfaceBinding? binding = Volatile.Read(ref _binding);
        if (binding is null || !binding.Router.AcceptInbound(link, packet))
        {
            Drops.Add(DropReason.NotDelivered);
            return;
        }

        if (!binding.Nic.Write(packet))
        {
            Drops.Add(DropReason.InterfaceWriteFailed);
        }
    }

    private void NicLoop(InterfaceBinding binding, CancellationToken cancellationToken)
    {
        // Layout: [headroom 4][header 16][packet ...][tag 16]. The NIC reads straight into the packet slot, so a
        // unicast packet is sealed in place; a flood seals from that slot into a second buffer per link.
        int capacity = TincanLink.PayloadOffset + Math.Max(MaxPayload, binding.Nic.Mtu + FrameAllowance) + 1 + TransportCipher.TagLength;
        byte[] buffer = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        byte[] floodBuffer = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        Span<byte> readSlot = buffer.AsSpan(TincanLink.PayloadOffset, capacity - TincanLink.PayloadOffset - TransportCipher.TagLength);
        int consecutiveErrors = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            int length;
            try
            {
                length = binding.Nic.Read(readSlot, cancellationToken);
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

            if (length <= 0)
            {
                continue;
            }

            if (length > MaxPayload)
            {
                Drops.Add(DropReason.Oversize);
                continue;
            }

            Span<byte> packet = buffer.AsSpan(TincanLink.PayloadOffset, length);
            RouteDecision decision = binding.Router.RouteOutbound(packet);
            switch (decision.Action)
            {
                case RouteAction.Unicast when decision.Link is TincanLink link && ReferenceEquals(link.Manager, this):
                    link.SendPayload(buffer, packet, ContentKind.Packet, stageWithoutSession: true);
                    break;
                case RouteAction.Flood:
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

        LogNicLoopEnded(_logger, binding.Nic.Name);
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Reading from interface {Nic} failed")]
    private static partial void LogNicReadFailed(ILogger logger, string nic, Exception exception);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Stopped reading from interface {Nic}")]
    private static partial void LogNicLoopEnded(ILogger logger, string nic);

    private sealed class InterfaceBinding(IVirtualInterface nic, IPacketRouter router)
    {
        public IVirtualInterface Nic { get; } = nic;

        public IPacketRouter Router { get; } = router;
    }
}
