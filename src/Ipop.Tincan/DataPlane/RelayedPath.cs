using System.Buffers;
using System.Net;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// A path through our own TURN allocation to one peer transport address (as the relay sees it). Sends on a
/// channel (RFC 8656 section 12: 4-byte header written in the headroom) once it is bound; until then a Send
/// indication (section 11) carries the datagram and the channel is bound in the background.
/// </summary>
internal sealed class RelayedPath : ILinkPath
{
    private const int SendIndicationOverhead = StunMessage.HeaderLength + 24 + 4 + 3;
    private readonly NatTraversal _nat;
    private TurnChannel? _channel;
    private int _binding;
    private bool _active;

    public RelayedPath(NatTraversal nat, TurnAllocation allocation, IPEndPoint peer)
    {
        _nat = nat;
        Allocation = allocation;
        Peer = peer;
    }

    public LinkPath Kind => LinkPath.Relayed;

    public TurnAllocation Allocation { get; }

    /// <summary>The peer's address as the relay sees it.</summary>
    public IPEndPoint Peer { get; }

    /// <summary>The TURN server's socket address: the "from" of datagrams that arrive over this path.</summary>
    public SocketAddress ServerAddress => Allocation.ServerSocketAddress;

    public IPEndPoint? RemoteEndPoint => Peer;

    /// <summary>True once datagrams go out as ChannelData (4 bytes of overhead) instead of Send indications.</summary>
    public bool HasChannel => Volatile.Read(ref _channel) is not null;

    /// <summary>The local relayed candidate this path sends from (for stats).</summary>
    public Candidate? LocalCandidate => _nat.RelayedCandidate;

    public bool Send(Span<byte> bufferWithHeadroom)
    {
        try
        {
            if (Allocation.State != TurnAllocationState.Active)
            {
                return false;
            }

            TurnChannel? channel = Volatile.Read(ref _channel);
            if (channel is not null)
            {
                return channel.Send(bufferWithHeadroom);
            }

            if (Volatile.Read(ref _active))
            {
                BindInBackground();
            }

            return SendIndication(bufferWithHeadroom[ILinkPath.Headroom..]);
        }
#pragma warning disable CA1031 // A path never throws into the data path; the datagram counts as not sent.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    public bool Queue(Memory<byte> bufferWithHeadroom, Udp.DatagramBatch batch)
    {
        // Batched only on a bound channel: the ChannelData header goes into the headroom and the datagram to the
        // server joins the others (the kernel may send the run as one GSO train). Until then, Send indications.
        TurnChannel? channel = Volatile.Read(ref _channel);
        if (channel is null)
        {
            return Send(bufferWithHeadroom.Span);
        }

        if (!channel.TryWriteHeader(bufferWithHeadroom.Span))
        {
            return false;
        }

        batch.Add(bufferWithHeadroom, ServerAddress);
        return true;
    }

    /// <summary>A link uses this path: bind a channel (handshake sprays on candidate paths stay on Send indications).</summary>
    public void Activate()
    {
        if (_nat.UseChannels)
        {
            Volatile.Write(ref _active, true);
            BindInBackground();
        }
    }

    public void OnAuthenticatedFrom(SocketAddress from)
    {
        // The relay's address does not move; the peer's address as seen by the relay is this path's identity.
    }

    private bool SendIndication(ReadOnlySpan<byte> datagram)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(SendIndicationOverhead + datagram.Length + 8);
        try
        {
            var writer = new StunMessageWriter(buffer, StunMethod.Send, StunMessageClass.Indication, StunTransactionId.NewRandom());
            writer.AppendXorAddress(StunAttributeType.XorPeerAddress, Peer);
            writer.Append(StunAttributeType.Data, datagram);
            return Allocation.SendRaw(writer.Written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void BindInBackground()
    {
        if (Interlocked.CompareExchange(ref _binding, 1, 0) != 0)
        {
            return;
        }

        _ = BindAsync();
    }

    private async Task BindAsync()
    {
        try
        {
            TurnChannel channel = await Allocation.BindChannelAsync(Peer).ConfigureAwait(false);
            Volatile.Write(ref _channel, channel);
        }
#pragma warning disable CA1031 // Fire-and-forget: a failed bind leaves the path on Send indications; retried later.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _nat.LogChannelBindFailed(Peer, e.Message);
            await Task.Delay(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            Volatile.Write(ref _binding, 0);
        }
    }

    public override string ToString() => $"relay {Allocation.RelayedAddress} via {Allocation.Server} -> {Peer}";
}
