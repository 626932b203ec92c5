using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The handshake work off the receive thread: the drain of <see cref="HandshakeGate.Queue"/> (on the node's
/// <see cref="HandshakeWorker"/> thread) does the Noise DH of each queued message and then posts to the link's control loop as the receive thread used to.
/// </summary>
internal sealed partial class LinkManager
{
    private readonly HandshakeWorker _handshakeWorker = new();
    private HandshakeGate? _handshakeGate;

    /// <summary>The receive thread's checks and the queue of handshake messages (created on first use).</summary>
    internal HandshakeGate Handshakes => Volatile.Read(ref _handshakeGate) ?? CreateHandshakeGate();

    private HandshakeGate CreateHandshakeGate()
    {
        var gate = new HandshakeGate(Keys.PublicKeyBytes, Time, HandleQueuedHandshake, _handshakeWorker.Schedule);
        return Interlocked.CompareExchange(ref _handshakeGate, gate, null) ?? gate;
    }

    // The queue's drain: one message at a time.
    private void HandleQueuedHandshake(HandshakeQueue.Slot slot)
    {
        try
        {
            switch ((MessageType)slot.Message[0])
            {
                case MessageType.HandshakeInitiation:
                    ProcessInitiation(slot.Message, slot.Address, slot.Relay);
                    break;
                case MessageType.HandshakeResponse:
                    ProcessResponse(slot.Message, slot.Address, slot.Relay);
                    break;
                default:
                    Drops.Add(DropReason.UnknownType);
                    break;
            }
        }
#pragma warning disable CA1031 // A bug in one message must not stop the handshakes of every link.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Drops.Add(DropReason.HandlerError);
            if (Drops.ShouldLog(DropReason.HandlerError))
            {
                LogHandshakeThrew(_logger, e);
            }
        }
    }

    private void ProcessInitiation(ReadOnlySpan<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!HandshakeInitiationMessage.TryRead(datagram, out uint senderIndex, out ReadOnlySpan<byte> noiseMessage))
        {
            Drops.Add(DropReason.Malformed);
            return;
        }

        Span<byte> timestamp = stackalloc byte[Tai64N.Length];
        if (!TryReadInitiation(noiseMessage, timestamp, out NoiseIKHandshake? noise))
        {
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

    // The Diffie-Hellman work of an initiation, in one place (the Noise state's owner changes it; keep this small).
    private bool TryReadInitiation(ReadOnlySpan<byte> noiseMessage, Span<byte> timestamp, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NoiseIKHandshake? noise)
    {
        noise = new NoiseIKHandshake(initiator: false, Keys, ReadOnlySpan<byte>.Empty, Prologue);
        if (noise.TryReadMessage1(noiseMessage, StaticSecrets, timestamp, out int length) && length == Tai64N.Length)
        {
            return true;
        }

        noise.Dispose();
        noise = null;
        return false;
    }

    private void ProcessResponse(ReadOnlySpan<byte> datagram, SocketAddress from, RelayedPath? relay)
    {
        if (!HandshakeResponseMessage.TryRead(datagram, out uint senderIndex, out uint receiverIndex, out ReadOnlySpan<byte> noiseMessage))
        {
            Drops.Add(DropReason.Malformed);
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

    [LoggerMessage(EventId = 1301, Level = LogLevel.Error, Message = "A handshake message's processing threw (a bug); the message was dropped")]
    private static partial void LogHandshakeThrew(ILogger logger, Exception exception);
}
